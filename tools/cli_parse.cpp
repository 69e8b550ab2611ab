#include "cli_parse.h"

#include <iostream>

#include "common/error.h"

namespace xbar::cli {

std::optional<cxxopts::ParseResult> parse_or_help(cxxopts::Options& opt, int argc, char** argv,
                                                  const std::string& help_extra) {
  auto res = opt.parse(argc, argv);
  if (!res.count("help")) return res;
  std::cout << opt.help() << help_extra;
  return std::nullopt;
}

void require_options(const cxxopts::ParseResult& res, const cxxopts::Options& opt,
                     const std::vector<std::string>& names, const std::string& what) {
  bool missing = false;
  for (const auto& n : names) missing = missing || !res.count(n);
  if (!missing) return;
  std::string list = what;
  if (list.empty())
    for (size_t i = 0; i < names.size(); ++i)
      list += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + ("--" + names[i]);
  const bool one = names.size() == 1;
  throw Error(list + (one ? " is" : " are") + " required (see " + opt.program() + " --help)");
}

}  // namespace xbar::cli
