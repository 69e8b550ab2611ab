// Accuracy-versus-precision studies: a grid over any config keys x Monte Carlo repeats (programmed
// chips). Results go to OUTPUT.csv (appended and flushed per point: an interrupted study resumes
// where it stopped and loses no finished point) and OUTPUT.h5 (rewritten atomically after each
// point, sorted by index, with what reproduces every point; apps/results.h). Under mpirun with
// several ranks the points are spread dynamically over the ranks (apps/mpi_runner.h) and rank
// 0 writes the one results file; --shard K/N runs one slice of the points into its own files.
#pragma once
#include <cstdint>
#include <string>

#include "engine/hardware.h"
#include "engine/policy.h"
#include "ml/evaluate.h"
#include "apps/study_spec.h"

namespace xbar {

struct StudyOptions {
  bool progress = true;
  int64_t stop_after = 0;  // stop after this many new points (0: run to the end); for tests
  int threads = 0;         // LibTorch + engine threads per evaluating thread (0: leave the default)
  int shard_k = 0, shard_n = 1;  // evaluate only points with index % shard_n == shard_k
};

// Results path (without extension) of a study or one shard of it: OUTPUT or OUTPUT.shardK-of-N.
std::string results_base(const StudySpec& s, const StudyOptions& o);

// Runs (or resumes) the study; rank 0 prints the summary table to stdout. Returns the points
// evaluated now (on rank 0: by all ranks).
int64_t run_study(const StudySpec& s, const StudyOptions& o);

// The data a study evaluates: the test images of its data set (study key `data`; "" = the
// default), normalised as the model records, or the text validation split. The second form serves
// `xbar rerun`, which has only what the results file records.
EvalData study_data(const StudySpec& s);
EvalData study_data(Task task, const std::string& model, const std::string& data_dir, int64_t samples, int64_t context);

struct PointResult {
  double metric = 0, saturation = 0;  // task metric; ADC saturations / conversions over all layers
  double energy_pJ = 0, latency_ns = 0, area_mm2 = 0;  // cost per inference (engine/cost.h)
};
// One point: converts `model` with `policy`, programs chip `chip`, evaluates. Same inputs, same
// bits (every draw is keyed by run.seed and chip), whichever rank or command runs it.
// The cost columns price the point's counted events with hw.
PointResult evaluate_point(const std::string& model, const Policy& policy, int chip, const EvalData& data,
                           const Hardware& hw = Hardware{});

}  // namespace xbar
