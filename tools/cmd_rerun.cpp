// xbar rerun RESULTS.h5 --point K: re-evaluates one study point from what its results file records.
#include <cxxopts.hpp>
#include <cstdio>
#include <iostream>

#include <ATen/Parallel.h>

#include "common/error.h"
#include "common/sha256.h"
#include "engine/config.h"
#include "apps/results.h"
#include "apps/study.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {
void check_hash(const std::string& file, const std::string& recorded, const std::string& what) {
  const std::string now = sha256_file(file);
  if (now != recorded)
    throw FileError(file + ": the " + what + " changed since the results were written (sha256 now " + now +
                    ", recorded " + recorded + ")");
}
}  // namespace

int cmd_rerun(int argc, char** argv) {
  cxxopts::Options opt("xbar rerun",
                       "Re-runs one point of a study from its results file alone: the recorded model (its sha256 must\n"
                       "match), the recorded policy text with the point's full config (run.seed) and chip, the device file\n"
                       "(sha256 must match when device.model = file), task, data set (its IDX directory; the same number\n"
                       "of images must be there), samples and context. Prints the stored and the new metric and saturation\n"
                       "fraction (17 digits); exit 0 when both are bit-identical, 1 when not. Paths in the file are taken\n"
                       "relative to the current directory, as when the study ran.");
  opt.add_options()("results", "study results file (.h5)", cxxopts::value<std::string>())(
      "point", "point index (the `index` column)", cxxopts::value<int64_t>())(
      "threads", "LibTorch and engine threads (count; 0 = all cores)", cxxopts::value<int>()->default_value("0"))(
      "h,help", "show this help");
  opt.parse_positional({"results"});
  const auto parsed = parse_or_help(opt, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"results", "point"}, "a results file and --point");
  const std::string path = res["results"].as<std::string>();
  const int64_t k = res["point"].as<int64_t>();
  const Results r = read_h5(path);
  const auto it = r.rows.find(k);
  if (it == r.rows.end())
    throw ConfigError("--point", std::to_string(k),
                      path + " holds " + std::to_string(r.rows.size()) + " of " + std::to_string(r.meta.points_total) +
                          " points, not this one");
  const ResultRow& row = it->second;
  if (r.meta.xbar_version != xbar_version())
    std::cerr << "rerun: note: written by xbar " << r.meta.xbar_version << ", this is " << xbar_version() << "\n";
  check_hash(r.meta.model, r.meta.model_sha256, "model");
  XbarConfig c;
  apply_toml_string(c, row.config_toml, path + ": config_toml of point " + std::to_string(k));
  if (c.device.model == DeviceKind::file) check_hash(c.device.file, row.device_sha256, "device file");
  if (const int t = res["threads"].as<int>(); t > 0) at::set_num_threads(t);
  Policy policy = parse_policy(r.meta.policy_toml, r.meta.policy_source + " (recorded in " + path + ")");
  policy.defaults = c;  // the point's full config: policy default and grid values
  const Task task = parse_enum<Task>("results task", r.meta.task);
  const EvalData data = study_data(task, r.meta.model, r.meta.data_dir, r.meta.samples, r.meta.context);
  const std::string evaluated = describe(data, task == Task::text ? "validation" : "test");
  if (!r.meta.data.empty() && evaluated != r.meta.data)
    throw FileError(path + ": the study evaluated " + r.meta.data + ", the recorded data directory '" + r.meta.data_dir +
                    "' now holds " + evaluated);
  std::printf("data %s\n", evaluated.c_str());
  const PointResult now = evaluate_point(r.meta.model, policy, row.repeat, data);
  const bool same = now.metric == row.metric && now.saturation == row.saturation;
  std::printf("point %lld (chip %d, run.seed %lld)\n", (long long)k, row.repeat, (long long)row.seed);
  std::printf("  %-20s stored %.17g  rerun %.17g\n", r.meta.metric_name.c_str(), row.metric, now.metric);
  std::printf("  %-20s stored %.17g  rerun %.17g\n", "saturation_fraction", row.saturation, now.saturation);
  std::printf("%s\n", same ? "identical" : "DIFFERENT");
  return same ? 0 : 1;
}

}  // namespace xbar::cli
