// xbar merge OUT SHARD...: combines the results files of `xbar sweep --shard K/N` runs into one.
#include <cxxopts.hpp>
#include <iostream>

#include "common/error.h"
#include "apps/results.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {
// SHARD may name the .h5, the .csv or the base path.
std::string h5_path(const std::string& p) {
  auto ends = [&](const std::string& e) { return p.size() >= e.size() && p.compare(p.size() - e.size(), e.size(), e) == 0; };
  if (ends(".h5")) return p;
  if (ends(".csv")) return p.substr(0, p.size() - 4) + ".h5";
  return p + ".h5";
}
}  // namespace

int cmd_merge(int argc, char** argv) {
  cxxopts::Options opt("xbar merge",
                       "Combines shard results of one study (xbar sweep STUDY --shard K/N, any K/N, or any partial results\n"
                       "files of the same study) into OUT.csv and OUT.h5, rows sorted by index: the same values as one\n"
                       "single-process run. Refuses files of a different study definition (fingerprint) and shards that\n"
                       "disagree on a point. Lists missing points and exits with 1 when some are missing (the merged file\n"
                       "is still written; `xbar sweep` with study.output = OUT resumes it).\n\n"
                       "usage: xbar merge OUT SHARD [SHARD...]   (SHARD: results path with or without .h5/.csv)");
  opt.add_options()("out", "merged results path without extension", cxxopts::value<std::string>())(
      "shards", "shard results files", cxxopts::value<std::vector<std::string>>())("h,help", "show this help");
  opt.parse_positional({"out", "shards"});
  opt.positional_help("OUT SHARD...");
  const auto parsed = parse_or_help(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"out", "shards"}, "an output path and at least one shard file");
  const std::string out = res["out"].as<std::string>();
  const auto shards = res["shards"].as<std::vector<std::string>>();
  Results merged;
  std::string first;
  for (const auto& sh : shards) {
    const std::string path = h5_path(sh);
    Results r = read_h5(path);
    if (first.empty()) {
      first = path;
      merged.meta = r.meta;
      merged.meta.shard_k = 0;
      merged.meta.shard_n = 1;
    } else if (r.meta.fingerprint != merged.meta.fingerprint) {
      throw FileError(path + ": results of a different study definition (fingerprint " + r.meta.fingerprint + ", " +
                      first + " has " + merged.meta.fingerprint + ")");
    } else if (r.meta.float_metric != merged.meta.float_metric) {
      std::cerr << "merge: warning: " << path << " has float_metric " << r.meta.float_metric << ", " << first << " has "
                << merged.meta.float_metric << " (keeping the first)\n";
    }
    for (auto& [i, row] : r.rows) {
      auto it = merged.rows.find(i);
      if (it != merged.rows.end() && (it->second.metric != row.metric || it->second.saturation != row.saturation))
        throw FileError(path + ": point " + std::to_string(i) + " disagrees with an earlier shard (metric " +
                        csv_row(row) + " vs " + csv_row(it->second) + ")");
      merged.rows[i] = std::move(row);
    }
  }
  write_csv(merged, out + ".csv");
  write_h5(merged, out + ".h5");
  const int64_t total = merged.meta.points_total, have = int64_t(merged.rows.size());
  std::cout << "merged " << shards.size() << " files: " << have << " of " << total << " points -> " << out << ".csv, "
            << out << ".h5\n";
  if (have == total) return 0;
  std::cerr << "merge: " << total - have << " of " << total << " points missing:";
  int listed = 0;
  for (int64_t i = 0; i < total && listed < 50; ++i)
    if (!merged.rows.count(i)) std::cerr << " " << i, ++listed;
  std::cerr << (total - have > listed ? " ..." : "") << "\n";
  return 1;
}

}  // namespace xbar::cli
