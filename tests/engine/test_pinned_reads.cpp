// Regression pin: engine reads of fixed configurations must stay bit-identical across refactors.
// tests/golden/engine_reads.txt holds, per case, an FNV-1a hash of the output bytes and the first
// outputs as hex floats, written by the engine before the code was restructured
// (XBAR_WRITE_GOLDEN=1 rewrites it: only for an intended change of numerics, stated in the commit).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/analog_layer.h"

using namespace xbar;

// The golden outputs are those of the optimized build (tools/build.sh). Sanitizer builds generate
// other floating-point code (last-bit differences), so the pin is skipped there.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kInstrumented = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kInstrumented = true;
#else
constexpr bool kInstrumented = false;
#endif
#else
constexpr bool kInstrumented = false;
#endif

namespace {
struct Case {
  const char* name;
  std::vector<const char*> set;  // section.key=value assignments on a default config
  bool calibrate = false;
  double drift_to_s = -1;        // > = 0: a second read after drift_to(t)
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"ideal", {}},
      {"quantized", {"mapping.weight_bits=6", "dac.bits=6", "adc.bits=8", "mapping.tile_rows=32", "mapping.tile_cols=24"}},
      {"pcm_read_noise", {"device.model=pcm", "dac.bits=8", "adc.bits=6", "run.t_inference_s=86400",
                          "mapping.tile_rows=64", "mapping.tile_cols=32"}},
      {"offset_bitserial_slices", {"device.model=pcm", "mapping.mapping=offset", "mapping.weight_bits=8",
                                   "mapping.cell_bits=2", "dac.bits=6", "dac.slice_bits=2", "adc.bits=7",
                                   "mapping.tile_rows=40", "mapping.tile_cols=16"}},
      {"rram_calibrated_adc_noise", {"device.model=rram", "adc.bits=6", "adc.range=calibrated", "adc.percentile=99",
                                     "adc.offset_sigma_lsb=0.3", "adc.gain_sigma=0.02", "adc.noise_sigma_lsb=0.5",
                                     "dac.bits=8", "dac.range=static", "dac.static_range=1.5"},
       true},
      {"normal_faults_levels", {"device.model=normal", "device.normal.prog_sigma_uS=0.4", "device.normal.read_sigma_rel=0.02",
                                "device.normal.drift_nu=0.05", "device.normal.drift_nu_std=0.02", "device.levels=16",
                                "device.stuck_at_gmin_rate=0.01", "device.stuck_at_gmax_rate=0.005",
                                "mapping.scale=tile", "adc.bits=8", "adc.range=fixed", "adc.fixed_fraction=0.3"},
       false, 3600},
      {"drift_compensation_column", {"device.model=pcm", "drift_compensation.mode=column", "adc.bits=8",
                                     "dac.bits=8", "run.t_inference_s=1"},
       false, 2.6e6},
      {"wires_ir_drop", {"device.model=pcm", "wires.r_row_ohm=2", "wires.r_col_ohm=2", "wires.r_sense_ohm=50",
                         "mapping.tile_rows=32", "mapping.tile_cols=32", "adc.bits=8"}},
      {"outliers", {"outliers.input_topk_percent=5", "outliers.weight_topk_percent=1", "dac.bits=4", "adc.bits=6",
                    "device.model=pcm"},
       true},
  };
  return c;
}

uint64_t fnv1a(const RowMatrixXf& Y, uint64_t h = 1469598103934665603ull) {
  const auto* p = reinterpret_cast<const unsigned char*>(Y.data());
  for (Eigen::Index i = 0; i < Y.size() * Eigen::Index(sizeof(float)); ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// Two reads of the same chip (the second advances the read-noise stream), then optionally a
// drift step and a third read; hash and first outputs of all of them.
std::string run_case(const Case& c) {
  XbarConfig cfg;
  for (const char* kv : c.set) set_assignment(cfg, kv);
  std::mt19937 g(12345);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  RowMatrixXf W(45, 70), X(33, 70);
  for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = u(g);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = u(g) * (i % 7 == 0 ? 3.f : 1.f);
  std::vector<float> bias(45);
  for (auto& b : bias) b = u(g);
  AnalogLayer L(cfg);
  L.program(W, bias.data(), 3);
  if (c.calibrate) L.calibrate(X.topRows(16));
  RowMatrixXf Y1 = L.read(X), Y2 = L.read(X);
  uint64_t h = fnv1a(Y2, fnv1a(Y1));
  RowMatrixXf Y3;
  if (c.drift_to_s >= 0) {
    L.drift_to(c.drift_to_s);
    Y3 = L.read(X);
    h = fnv1a(Y3, h);
  }
  std::ostringstream os;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  os << c.name << " " << buf;
  for (int i = 0; i < 4; ++i) {
    std::snprintf(buf, sizeof buf, " %a", double(Y1.data()[i * 17]));
    os << buf;
  }
  return os.str();
}

std::string golden_path() { return std::string(XBAR_SOURCE_DIR) + "/tests/golden/engine_reads.txt"; }
}  // namespace

TEST_CASE("pinned engine reads are bit-identical to the stored golden outputs" * doctest::skip(kInstrumented)) {
  std::map<std::string, std::string> got;
  for (const auto& c : cases()) got[c.name] = run_case(c);
  if (const char* w = std::getenv("XBAR_WRITE_GOLDEN"); w && std::string(w) == "1") {
    std::ofstream f(golden_path());
    for (const auto& c : cases()) f << got[c.name] << "\n";
    MESSAGE("wrote " << golden_path());
    return;
  }
  std::ifstream f(golden_path());
  REQUIRE_MESSAGE(f.good(), "missing " << golden_path());
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const std::string name = line.substr(0, line.find(' '));
    INFO("case " << name);
    REQUIRE(got.count(name) == 1);
    CHECK(got[name] == line);
    ++n;
  }
  CHECK(n == int(cases().size()));
}
