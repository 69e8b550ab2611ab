// libFuzzer target: study file text -> parse_study (apps/study_spec.cpp), then the points it
// expands to and the first point's policy. The policy and model files a study names are read from
// tests/fuzz/study_files/ (the working directory is switched there at start-up); seeds name
// policy.toml, ideal.toml and model.pt there.
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/error.h"
#include "apps/study_spec.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (chdir(XBAR_FUZZ_STUDY_DIR) != 0) {
    std::perror(XBAR_FUZZ_STUDY_DIR);
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  xbar::StudySpec s;
  try {
    s = xbar::parse_study(text, "fuzz_study.toml");
  } catch (const xbar::Error&) {
    return 0;
  }
  const auto pts = xbar::study_points(s);
  size_t expect = size_t(s.repeats);
  for (const auto& g : s.grid) expect *= g.second.size();
  xbar::fuzz::require(pts.size() == expect, "study_points count is not repeats x grid sizes");
  // parse_study validated each grid value alone; a combination of values may still conflict
  // (a typed ConfigError then), but nothing else may go wrong.
  const xbar::Policy base = xbar::load_policy(s.policy);
  for (const auto* pt : {&pts.front(), &pts.back()}) {
    try {
      xbar::point_policy(base, s, pt->values);
    } catch (const xbar::ConfigError&) {
    }
  }
  return 0;
}
