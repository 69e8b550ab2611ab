// Accuracy-versus-precision studies: a grid over any config keys x Monte Carlo repeats (programmed
// chips), evaluated point by point. Results go to OUTPUT.csv (appended and flushed per point: an
// interrupted study resumes where it stopped and loses no finished point) and OUTPUT.h5 (rewritten
// atomically after each point, with the full config of every point).
#pragma once
#include <cstdint>

#include "src/study/study_spec.h"

namespace xbar {

struct StudyOptions {
  bool progress = true;
  int64_t stop_after = 0;  // stop after this many new points (0: run to the end); for tests
};

// Runs (or resumes) the study; prints the summary table to stdout. Returns points evaluated now.
int64_t run_study(const StudySpec& s, const StudyOptions& o);

}  // namespace xbar
