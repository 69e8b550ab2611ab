// The parse steps every xbar subcommand shares: parse argv, answer --help, insist on required
// options with one message format ("--in and --out are required (see xbar mvm --help)").
#pragma once
#include <cxxopts.hpp>

#include <optional>
#include <string>
#include <vector>

namespace xbar::cli {

// Parses argv. With -h/--help prints the help followed by `help_extra` and returns nothing: the
// command then returns 0.
std::optional<cxxopts::ParseResult> parse_or_help(cxxopts::Options& opt, int argc, char** argv,
                                                  const std::string& help_extra = "");

// Throws Error when any of `names` is absent. `what` describes them for the message (default: the
// option names, "--in and --out").
void require_options(const cxxopts::ParseResult& res, const cxxopts::Options& opt,
                     const std::vector<std::string>& names, const std::string& what = "");

}  // namespace xbar::cli
