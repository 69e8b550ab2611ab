// Shared CLI options for a layer configuration: --config FILE.toml and repeated --set key=value.
#pragma once
#include <cxxopts.hpp>

#include "cli_parse.h"
#include "engine/config.h"

namespace xbar::cli {

inline void add_config_options(cxxopts::Options& opt) {
  opt.add_options()("c,config", "TOML configuration file (sections [mapping] [device] [dac] [adc] [wires] [run]; "
                                "default: every stage ideal)",
                    cxxopts::value<std::string>()->default_value(""))(
      "set", "override one key, e.g. --set adc.bits=6 (repeatable; applied after --config)",
      cxxopts::value<std::vector<std::string>>());
}

// Adds the configuration options and -h/--help, then parses; with --help prints the help and the
// configuration keys and returns nothing.
inline std::optional<cxxopts::ParseResult> parse_with_config(cxxopts::Options& opt, int argc, char** argv) {
  add_config_options(opt);
  opt.add_options()("h,help", "show this help");
  return parse_or_help(opt, argc, argv,
                       "\nConfiguration keys (TOML [section] key = value, or --set section.key=value):\n" + config_help());
}

// Applies every --set section.key=value in order.
inline void apply_set_options(XbarConfig& cfg, const cxxopts::ParseResult& res) {
  if (!res.count("set")) return;
  for (const auto& kv : res["set"].as<std::vector<std::string>>()) set_assignment(cfg, kv);
}

inline XbarConfig config_from_options(const cxxopts::ParseResult& res) {
  XbarConfig cfg;
  const std::string path = res["config"].as<std::string>();
  if (!path.empty()) apply_toml_file(cfg, path);
  apply_set_options(cfg, res);
  cfg.validate();
  return cfg;
}

}  // namespace xbar::cli
