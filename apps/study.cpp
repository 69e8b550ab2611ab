#include "apps/study.h"

#include <omp.h>
#include <torch/script.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/file_lock.h"
#include "common/progress.h"
#include "common/stats.h"
#include "devices/device_file.h"
#include "apps/mpi_runner.h"
#include "apps/point_cost.h"
#include "apps/results.h"
#include "torch/convert.h"
#include "torch/model_cost.h"
#include "ml/model_data.h"

namespace xbar {

namespace {

// Both pools: LibTorch's (float parts of the model) and OpenMP's (the engine); per calling thread.
void set_threads(int n) {
  if (n <= 0) return;
  at::set_num_threads(n);
  omp_set_num_threads(n);
}

void print_table(const Results& r) {
  std::map<std::vector<std::string>, std::vector<double>> groups;
  std::vector<std::vector<std::string>> order;
  for (const auto& [i, row] : r.rows) {
    auto& g = groups[row.values];
    if (g.empty()) order.push_back(row.values);
    g.push_back(row.metric);
  }
  std::cout << r.meta.metric_name << (r.meta.data.empty() ? "" : " on " + r.meta.data) << " (float model: " << std::fixed << std::setprecision(2) << r.meta.float_metric
            << ")\n";
  for (const auto& k : r.meta.grid_keys) std::cout << std::setw(16) << k;
  std::cout << std::setw(12) << "mean" << std::setw(10) << "std" << std::setw(6) << "n" << "\n";
  for (const auto& key : order) {
    const auto& v = groups[key];
    const MeanStd ms = mean_std(v);
    for (const auto& x : key) std::cout << std::setw(16) << x;
    std::cout << std::setw(12) << ms.mean << std::setw(10) << ms.sd << std::setw(6) << v.size() << "\n";
  }
  std::cout.unsetf(std::ios::fixed);
}

// Rank 0's side of a run: the rows so far, the CSV appended per point, the HDF5 rewritten.
class Recorder {
 public:
  Recorder(const StudySpec& s, const Policy& base, const std::vector<StudyPoint>& pts, const StudyOptions& o,
           const std::string& data)
      : s_(s), base_(base), pts_(pts), path_(results_base(s, o)) {
    res_.meta = study_meta(s);
    res_.meta.data = data;
    res_.meta.shard_k = o.shard_k;
    res_.meta.shard_n = o.shard_n;
    const auto dir = std::filesystem::path(path_).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) throw FileError(dir.string() + ": cannot create the results directory (" + ec.message() + ")");
    lock_ = std::make_unique<FileLock>(path_, "study output");
    require_own_results(path_ + ".h5", s.fingerprint);
    for (const auto& [i, mr] : read_csv_rows(path_ + ".csv", s.fingerprint, s.grid.size())) {
      if (i < 0 || i >= int64_t(pts.size())) throw FileError(path_ + ".csv: row index " + std::to_string(i) + " out of range");
      res_.rows[i] = make_row(s, base, pts[size_t(i)], mr.metric, mr.saturation);
      res_.rows[i].cost = mr.cost;
    }
    write_csv(res_, path_ + ".csv");  // drops a partial last line; appended from here on
  }
  bool done(int64_t i) const { return res_.rows.count(i) > 0; }
  size_t size() const { return res_.rows.size(); }
  void set_float(double metric, const std::string& name) {
    res_.meta.float_metric = metric;
    res_.meta.metric_name = name;
  }
  void add(int64_t i, const PointResult& r) {
    ResultRow row = make_row(s_, base_, pts_.at(size_t(i)), r.metric, r.saturation);
    row.cost = {r.energy_pJ, r.latency_ns, r.area_mm2};
    res_.rows[i] = row;
    // Both files or neither: a failed HDF5 rewrite takes the CSV row back.
    const uint64_t csv_size = append_file_durable(path_ + ".csv", csv_row(row) + "\n");
    try {
      write_h5(res_, path_ + ".h5");
    } catch (const Error&) {
      truncate_file(path_ + ".csv", csv_size);
      throw;
    }
  }
  // Sorted CSV (rows may have arrived out of order), HDF5, table.
  void finish() {
    write_csv(res_, path_ + ".csv");
    write_h5(res_, path_ + ".h5");
    print_table(res_);
  }

 private:
  const StudySpec& s_;
  const Policy& base_;
  const std::vector<StudyPoint>& pts_;
  std::string path_;
  Results res_;
  std::unique_ptr<FileLock> lock_;  // held while the study writes its files
};

// Every device file a point names is read and validated before any point runs.
void check_point_devices(const StudySpec& s, const Policy& base, const std::vector<StudyPoint>& pts) {
  std::set<std::vector<std::string>> seen_values;
  std::set<std::string> seen_files;
  for (const auto& p : pts) {
    if (!seen_values.insert(p.values).second) continue;
    const XbarConfig c = point_policy(base, s, p.values).defaults;
    if (c.device.model == DeviceKind::file && seen_files.insert(c.device.file).second) read_device_file(c.device.file);
  }
}

}  // namespace

std::string results_base(const StudySpec& s, const StudyOptions& o) {
  if (o.shard_n == 1) return s.output;
  return s.output + ".shard" + std::to_string(o.shard_k) + "-of-" + std::to_string(o.shard_n);
}

PointResult evaluate_point(const std::string& model, const Policy& policy, int chip, const EvalData& data,
                           const Hardware& hw) {
  torch::jit::Module m = load_torchscript(model);
  convert_module(m, policy);
  program_chip(m, chip);
  calibrate(m, data.calibration);
  const std::vector<LayerCounters> before = model_counters(m);  // the cost of inference, not of calibration
  PointResult r;
  r.metric = evaluate(m, data);
  double conv = 0, sat = 0;
  for (const auto& l : xbar_layers(m)) {
    const auto c = l->counters();
    conv += c.at("conversions");
    sat += c.at("saturations");
  }
  r.saturation = conv > 0 ? sat / conv : 0.0;
  const ModelCost mc = model_cost(model_cost_rows(m, hw, before, double(eval_inferences(m, data))));
  r.energy_pJ = mc.energy_pJ.total();
  r.latency_ns = mc.latency_ns;
  r.area_mm2 = mc.area_mm2;
  return r;
}

EvalData study_data(const StudySpec& s) {
  return study_data(s.task, s.model, s.data, s.samples, s.context);
}

EvalData study_data(Task task, const std::string& model, const std::string& data_dir, int64_t samples, int64_t context) {
  data::ImageData images;
  if (!data_dir.empty()) images.dir = data_dir;
  if (task == Task::fashion_mnist) images = image_data_for(load_torchscript(model), images.dir);
  return load_eval_data(task, samples, context, {}, images);
}

int64_t run_study(const StudySpec& s, const StudyOptions& o) {
  if (o.shard_n < 1 || o.shard_k < 0 || o.shard_k >= o.shard_n)
    throw ConfigError("shard", std::to_string(o.shard_k) + "/" + std::to_string(o.shard_n), "needs 0 <= K < N");
  const std::vector<StudyPoint> pts = study_points(s);
  const Policy base = load_policy(s.policy);
  const bool root = mpi::rank() == 0;
  if (!mpi::active()) set_threads(o.threads);
  const EvalData data = study_data(s);
  std::unique_ptr<Recorder> rec;
  std::vector<StudyPoint> todo;
  if (root) {
    check_point_devices(s, base, pts);
    rec = std::make_unique<Recorder>(s, base, pts, o, describe(data, s.task == Task::text ? "validation" : "test"));
    for (const auto& p : pts)
      if (p.index % o.shard_n == o.shard_k && !rec->done(p.index)) todo.push_back(p);
  }
  const Hardware hw = s.hardware.empty() ? Hardware{} : load_hardware(s.hardware);
  auto eval = [&](int64_t i) {
    const StudyPoint& p = pts.at(size_t(i));
    return evaluate_point(s.model, point_policy(base, s, p.values), p.repeat, data, hw);
  };
  std::unique_ptr<models::Progress> bar;
  if (root) {
    // The float reference first (on rank 0 with all its threads, while other ranks wait).
    torch::jit::Module fm = load_torchscript(s.model);
    rec->set_float(evaluate(fm, data), data.metric());
    if (rec->size() > 0) std::cerr << "resuming: " << rec->size() << " of " << pts.size() << " points already done\n";
    bar = std::make_unique<models::Progress>("study", int64_t(rec->size() + todo.size()), o.progress);
    bar->update(int64_t(rec->size()), "");
  }
  int64_t done_now = 0;
  auto record = [&](int64_t i, const PointResult& r) {
    rec->add(i, r);
    ++done_now;
    std::ostringstream info;
    info << std::fixed << std::setprecision(2) << data.metric() << " " << r.metric;
    bar->update(int64_t(rec->size()), info.str());
  };
  auto stop = [&] { return o.stop_after > 0 && done_now >= o.stop_after; };
  if (mpi::active()) {
    std::vector<int64_t> order;
    if (root) order = costliest_first(s, base, todo);
    mpi::run_dynamic(
        order,
        [&](int64_t i) {
          const PointResult r = eval(i);
          return std::vector<double>{r.metric, r.saturation, r.energy_pJ, r.latency_ns, r.area_mm2};
        },
        [&](int64_t i, const std::vector<double>& v) {
          record(i, PointResult{v.at(0), v.at(1), v.at(2), v.at(3), v.at(4)});
        },
        stop,
        [&] { set_threads(o.threads); });
  } else {
    for (const auto& p : todo) {
      if (stop()) break;
      record(p.index, eval(p.index));
    }
  }
  if (!root) return 0;
  bar->finish();
  rec->finish();
  return done_now;
}

}  // namespace xbar
