// The cost model against hand counts: events counted by a read equal those computed here from the
// inputs and the programmed conductances, and the energies follow from the hardware file.
#include <doctest/doctest.h>

#include <bitset>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "engine/analog_layer.h"
#include "engine/array_id.h"
#include "engine/cost.h"
#include "engine/hardware.h"
#include "engine/policy.h"

#include "tests/engine/engine_test_support.h"

using namespace xbar;
using xbar::test::random_matrix;

namespace {
// Integer inputs in [-15, 15] with |x| = 15 somewhere in every row: a 5-bit signed DAC with
// 1-bit slices applies exactly the bits of |x| with the sign of x.
RowMatrixXf integer_inputs(int rows, int cols, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int> u(-15, 15);
  RowMatrixXf X(rows, cols);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = float(u(g));
  for (int b = 0; b < rows; ++b) X(b, b % cols) = (b % 2) ? 15.f : -15.f;
  return X;
}

XbarConfig sliced_config() {
  XbarConfig c;
  c.mapping.tile_rows = 64;
  c.mapping.tile_cols = 32;
  c.mapping.weight_bits = 8;
  c.mapping.cell_bits = 2;  // 4 weight slices
  c.dac.bits = 5;
  c.dac.slice_bits = 1;  // 4 input slices
  c.adc.bits = 8;
  return c;
}

Hardware test_hardware() {
  Hardware h;  // distinct values so a wrong pairing of event and price shows
  h.adc_energy_pJ = 1.7;
  h.adc_energy_factor_per_bit = 1.3;
  h.dac_energy_pJ = 0.37;
  h.dac_drive_energy_pJ = 0.041;
  h.read_voltage_V = 0.3;
  h.read_time_ns = 50;
  h.shift_add_energy_pJ = 0.023;
  h.accumulate_energy_pJ = 0.031;
  h.digital_mac_energy_pJ = 1.1;
  h.digital_op_energy_pJ = 0.13;
  h.buffer_energy_pJ_per_bit = 0.07;
  h.activation_bits = 16;
  h.network_energy_pJ_per_bit = 0.09;
  h.partial_sum_bits = 24;
  h.cell_write_energy_pJ = 7;
  return h;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = "/tmp/xbar_test_cost_" + name + ".toml";
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("single-tile layer: energy equals the hand count from inputs and conductances (1e-9 relative)") {
  for (SignedMapping mapping : {SignedMapping::differential, SignedMapping::offset}) {
    CAPTURE(int(mapping));
    XbarConfig cfg = sliced_config();
    cfg.mapping.mapping = mapping;
    const int in = 40, out = 20, B = 7;
    const RowMatrixXf W = random_matrix(out, in, 3), X = integer_inputs(B, in, 4);
    AnalogLayer L(cfg);
    L.program(W);
    L.read(X);
    const LayerCounters& c = L.counters();

    // Hand count. Input slice k of x applies sign(x) * bit k of |x|: sum_k v^2 = popcount(|x|).
    const int K = 4, S = 4, per_slice = mapping == SignedMapping::differential ? 2 : 1;
    const int phys_cols = out + (mapping == SignedMapping::offset ? 1 : 0);
    std::vector<double> v2(in, 0.0);
    int64_t pulses = 0;
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < in; ++i) {
        const int n = int(std::bitset<8>(unsigned(std::abs(int(X(b, i))))).count());
        v2[i] += n;
        pulses += n;
      }
    double v2g = 0;  // programmed conductances: ideal device, no drift, ideal wires
    for (int s = 0; s < S; ++s)
      for (int a = 0; a < per_slice; ++a) {
        const Eigen::MatrixXf& G = L.programmed(ArrayId{0, 0, s, a}.packed());
        REQUIRE(G.rows() == in);
        REQUIRE(G.cols() == phys_cols);
        for (int i = 0; i < in; ++i) v2g += v2[i] * G.row(i).cast<double>().sum();
      }
    const int64_t arrays = int64_t(S) * per_slice;
    const int64_t column_outputs = int64_t(B) * K * out * S;
    CHECK(c.input_pulses == pulses * arrays);
    CHECK(c.input_drives == int64_t(B) * K * in * arrays);
    CHECK(c.column_outputs == column_outputs);
    CHECK(c.conversions == column_outputs);
    CHECK(c.accumulations == 0);
    CHECK(c.analog_macs == int64_t(B) * in * out);
    CHECK(c.cells_written == arrays * in * phys_cols);
    CHECK(c.rows_written == in);  // one tile: each array programs its 40 rows, all arrays at once
    CHECK(rel(c.array_v2g_uS, v2g) < 1e-12);

    const Hardware hw = test_hardware();
    const LayerCost cost = layer_cost(hw, cfg, c, false);
    const double e_adc = 1.7;  // adc.bits = adc_ref_bits = 8
    const double hand = double(column_outputs) * (e_adc + 0.023) + double(pulses * arrays) * 0.37 +
                        double(int64_t(B) * K * in * arrays) * 0.041 +
                        50e-9 * 0.3 * 0.3 * v2g * 1e-6 * 1e12 + 2.0 * B * out * 0.13 +
                        double(B) * (in * arrays + out) * 16 * 0.07 + double(B) * in * 1 * 16 * 0.09 +
                        double(arrays * in * phys_cols) * 7;
    CHECK(rel(cost.energy_pJ.total(), hand) < 1e-9);
    CHECK(rel(cost.energy_pJ.array, 50e-9 * 0.09 * v2g * 1e-6 * 1e12) < 1e-9);
    CHECK(cost.ops == 2.0 * B * in * out);
  }
}

TEST_CASE("zero input: no array read energy and no input pulses") {
  XbarConfig cfg = sliced_config();
  AnalogLayer L(cfg);
  L.program(random_matrix(20, 100, 5));
  L.read(RowMatrixXf::Zero(5, 100));
  CHECK(L.counters().array_v2g_uS == 0.0);
  CHECK(L.counters().input_pulses == 0);
  CHECK(layer_cost(test_hardware(), cfg, L.counters(), false).energy_pJ.array == 0.0);
  CHECK(L.counters().column_outputs > 0);  // the ADCs still convert every column
}

TEST_CASE("array energy with continuous inputs: t_read sum_i V_i^2 sum_j G_ij over reads, drift included") {
  XbarConfig cfg;
  cfg.mapping.tile_rows = 128;
  cfg.mapping.tile_cols = 128;
  cfg.device.model = DeviceKind::pcm;  // drifting conductances: the energy uses what is read
  cfg.device.prog_noise_scale = 0;
  cfg.device.read_noise_scale = 0;
  cfg.run.t_inference_s = 0;
  AnalogLayer L(cfg);
  L.program(random_matrix(10, 30, 6));
  RowMatrixXf X = random_matrix(3, 30, 7);
  L.read(X);
  const double at_0 = L.counters().array_v2g_uS;
  double hand = 0;  // unquantized absmax DAC: v = x / max|x| per vector
  for (int b = 0; b < 3; ++b) {
    const double m = X.row(b).cwiseAbs().maxCoeff();
    for (int i = 0; i < 30; ++i) {
      const double v = double(float(double(X(b, i)) / m));
      for (int a = 0; a < 2; ++a) hand += v * v * L.programmed(ArrayId{0, 0, 0, a}.packed()).row(i).cast<double>().sum();
    }
  }
  CHECK(rel(at_0, hand) < 1e-9);
  L.drift_to(1e6);
  L.read(X);
  const double later = L.counters().array_v2g_uS - at_0;
  CHECK(later < 0.99 * at_0);  // drifted conductances are lower
  CHECK(later > 0);
}

TEST_CASE("energy is monotone in ADC bits") {
  const RowMatrixXf W = random_matrix(16, 48, 8), X = random_matrix(6, 48, 9);
  double prev = 0;
  for (int bits = 3; bits <= 12; ++bits) {
    XbarConfig cfg = sliced_config();
    cfg.adc.bits = bits;
    AnalogLayer L(cfg);
    L.program(W);
    L.read(X);
    const double e = layer_cost(Hardware{}, cfg, L.counters(), false).energy_pJ.total();
    CAPTURE(bits);
    CHECK(e > prev);
    prev = e;
  }
}

TEST_CASE("doubling tile rows halves the conversions of a deep layer") {
  const RowMatrixXf W = random_matrix(24, 512, 10), X = random_matrix(5, 512, 11);
  int64_t conv[2], acc[2];
  for (int r = 0; r < 2; ++r) {
    XbarConfig cfg = sliced_config();
    cfg.mapping.tile_rows = 64 << r;
    AnalogLayer L(cfg);
    L.program(W);
    L.read(X);
    conv[r] = L.counters().column_outputs;
    acc[r] = L.counters().accumulations;
  }
  CHECK(conv[0] == 2 * conv[1]);
  CHECK(conv[0] == int64_t(5) * 4 * 4 * 24 * (512 / 64));  // vectors x input slices x weight slices x out x row tiles
  CHECK(acc[0] == int64_t(5) * 24 * (512 / 64 - 1));       // partial sums across row tiles
  CHECK(acc[1] == int64_t(5) * 24 * (512 / 128 - 1));
}

TEST_CASE("event counting leaves outputs bit-identical and its counts do not depend on threads") {
  XbarConfig cfg = sliced_config();
  cfg.device.model = DeviceKind::pcm;
  cfg.adc.noise_sigma_lsb = 0.5;
  cfg.mapping.tile_rows = cfg.mapping.tile_cols = 32;
  const RowMatrixXf W = random_matrix(70, 90, 12), X = random_matrix(300, 90, 13);
  RowMatrixXf Y[3];
  LayerCounters c[3];
  for (int r = 0; r < 3; ++r) {
    XbarConfig k = cfg;
    k.run.threads = r == 2 ? 1 : 2;
    AnalogLayer L(k);
    L.count_events(r != 1);
    L.program(W);
    Y[r] = L.read(X);
    c[r] = L.counters();
  }
  CHECK(std::memcmp(Y[0].data(), Y[1].data(), sizeof(float) * Y[0].size()) == 0);
  CHECK(std::memcmp(Y[0].data(), Y[2].data(), sizeof(float) * Y[0].size()) == 0);
  CHECK(c[1].input_pulses == 0);
  CHECK(c[0].array_v2g_uS == c[2].array_v2g_uS);  // bit for bit
  CHECK(c[0].input_pulses == c[2].input_pulses);
  CHECK(c[0].column_outputs == c[0].conversions);
}

TEST_CASE("latency and area follow the hardware description") {
  XbarConfig cfg = sliced_config();  // 4 input slices, 4 weight slices, differential, 64 x 32 tiles
  LayerCounters c;
  c.tiles = 3;
  c.arrays = 3 * 4 * 2;
  c.vectors = 10;
  c.cells_written = c.arrays * 64 * 16;  // half-width writes: still 64 row steps per array
  c.rows_written = 64;
  Hardware h;
  h.read_time_ns = 20;
  h.adc_time_ns = 1;
  h.columns_per_adc = 16;
  h.sample_and_hold = false;
  h.cell_write_time_ns = 50;
  LayerCost r = layer_cost(h, cfg, c, false);
  CHECK(r.read_ns == doctest::Approx(10 * 4 * (20 + 16 * 1.0)));
  CHECK(r.write_ns == doctest::Approx(64 * 50.0));  // rows in series, arrays in parallel
  CHECK(r.area_um2.adc == doctest::Approx(3 * 4 * 2 * h.adc_area_um2));  // 32 columns / 16 per ADC
  CHECK(r.area_um2.dac == doctest::Approx(24 * 64 * h.dac_area_um2));
  h.sample_and_hold = true;
  CHECK(layer_cost(h, cfg, c, false).read_ns == doctest::Approx(10 * 4 * 20.0));
  const ModelCost m = model_cost({r, per_inference(r, 2)});
  CHECK(m.latency_ns == doctest::Approx(1.5 * r.read_ns));
  CHECK(m.pipeline_ns == doctest::Approx(r.read_ns));
  CHECK(m.program_energy_pJ == doctest::Approx(1.5 * r.energy_pJ.write));
}

TEST_CASE("hardware files: unknown key, negative energy, NaN and wrong types name the key and the file") {
  const std::string ok = write_temp("ok", "[hardware]\nname = \"t\"\nadc_energy_pJ = 2.5\ncolumns_per_adc = 64\n");
  const Hardware h = load_hardware(ok);
  CHECK(h.adc_energy_pJ == 2.5);
  CHECK(h.columns_per_adc == 64);
  CHECK(h.dac_energy_pJ == Hardware{}.dac_energy_pJ);
  const auto bad = [](const std::string& name, const std::string& body, const std::string& key) {
    const std::string p = write_temp(name, "[hardware]\n" + body + "\n");
    CAPTURE(body);
    CHECK_THROWS_WITH_AS(load_hardware(p), doctest::Contains(key.c_str()), ConfigError);
    CHECK_THROWS_WITH_AS(load_hardware(p), doctest::Contains(p.c_str()), ConfigError);
  };
  bad("unknown", "adc_energy_pj = 1", "hardware.adc_energy_pj");
  bad("negative", "dac_energy_pJ = -0.1", "hardware.dac_energy_pJ");
  bad("nan", "read_time_ns = nan", "hardware.read_time_ns");
  bad("type", "columns_per_adc = \"many\"", "hardware.columns_per_adc");
  bad("section", "[adc]\nbits = 3", "adc");
  CHECK_THROWS_AS(load_hardware("/tmp/xbar_no_such_hardware.toml"), FileError);
  CHECK(hardware_help().find("hardware.adc_energy_pJ [pJ]") != std::string::npos);
}

TEST_CASE("shipped hardware files load") {
  const std::string src = XBAR_SOURCE_DIR;
  for (const char* f : {"default", "isaac", "neurram"}) {
    CAPTURE(f);
    CHECK_NOTHROW(load_hardware(src + "/data/hardware/" + f + ".toml"));
  }
}

namespace {
// The configuration of a policy file's defaults.
XbarConfig policy_config(const std::string& name) {
  return load_policy(std::string(XBAR_SOURCE_DIR) + "/data/policies/" + name + ".toml").defaults;
}
}  // namespace

TEST_CASE("ISAAC: energy per 16-bit MAC and ADC share of power within 10% of the paper") {
  // Paper (Shafiee et al., ISCA 2016, Table II): a tile of 12 IMAs draws 330 mW, its 96 ADCs
  // 192 mW (58.2%). An IMA holds 128 x 128 16-bit weights (8 arrays of 2-bit cells) and does
  // 128 x 128 16-bit MACs per 16 input-bit cycles of 128 / 1.2 GHz = 106.7 ns:
  // 330 mW x 16 x 106.7 ns / (12 x 16384) = 2.865 pJ per 16-bit MAC at tile level.
  const double paper_pJ_per_mac = 0.330 * 16 * (128 / 1.2e9) / (12 * 16384.0) * 1e12;
  const double paper_adc_share = 192.0 / 330.0;
  const XbarConfig cfg = policy_config("isaac");
  const Hardware hw = load_hardware(std::string(XBAR_SOURCE_DIR) + "/data/hardware/isaac.toml");
  // One IMA's worth: a 128 x 128 layer of random weights, random unsigned 16-bit inputs.
  std::mt19937 g(21);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  RowMatrixXf X(64, 128);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = u(g);
  AnalogLayer L(cfg);
  L.program(random_matrix(128, 128, 22));
  L.read(X);
  const LayerCost c = layer_cost(hw, cfg, L.counters(), false);
  const double macs = 64.0 * 128 * 128;
  const double pJ_per_mac = c.inference_energy_pJ() / macs;
  const double adc_share = c.energy_pJ.adc / c.inference_energy_pJ();
  MESSAGE("ISAAC energy per 16-bit MAC " << pJ_per_mac << " pJ (paper " << paper_pJ_per_mac << "), ADC share "
                                         << adc_share << " (paper " << paper_adc_share << "), array "
                                         << c.energy_pJ.array / macs << " pJ/MAC (paper 2.4 mW/IMA: "
                                         << 2.4e-3 * 16 * (128 / 1.2e9) / 16384 * 1e12 << ")");
  CHECK(rel(pJ_per_mac, paper_pJ_per_mac) < 0.10);
  CHECK(rel(adc_share, paper_adc_share) < 0.10);
}

TEST_CASE("NeuRRAM: energy efficiency at 2-bit signed inputs and 4-bit outputs within 15% of the measured chip") {
  // Measured (Wan et al., Nature 2022, Extended Data Fig. 12e; value as read off the figure in
  // CiMLoop's reproduction, Andrulis et al., ISPASS 2024): 40.3 TOPS/W for one-phase MVMs with
  // 2-bit signed inputs and 4-bit outputs on a 256 x 256 core (4-bit weights on differential pairs).
  // The file's figures are per-component circuit figures (neuron steps, wordline capacitance,
  // cell read); the efficiency here follows from them and the counted events of one core's worth
  // of MVMs: 128 inputs x 256 outputs, random weights, random signed inputs.
  const double measured_tops_per_w = 40.3;
  const XbarConfig cfg = policy_config("neurram");
  const Hardware hw = load_hardware(std::string(XBAR_SOURCE_DIR) + "/data/hardware/neurram.toml");
  std::mt19937 g(31);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  RowMatrixXf X(64, 128);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = u(g);
  AnalogLayer L(cfg);
  L.program(random_matrix(256, 128, 32));
  L.read(X);
  const LayerCost c = layer_cost(hw, cfg, L.counters(), false);
  const double tops_per_w = c.ops / c.inference_energy_pJ();  // ops per pJ = TOPS/W
  MESSAGE("NeuRRAM " << tops_per_w << " TOPS/W (measured " << measured_tops_per_w << "): neuron+wordline "
                     << c.energy_pJ.adc / c.ops * 1e3 << " fJ/op, array " << c.energy_pJ.array / c.ops * 1e3
                     << " fJ/op");
  CHECK(c.ops == doctest::Approx(2.0 * 64 * 128 * 256));
  CHECK(rel(tops_per_w, measured_tops_per_w) < 0.15);
}

TEST_CASE("data/hardware/default.toml holds the built-in defaults (used when no file is given)") {
  const Hardware file = load_hardware(std::string(XBAR_SOURCE_DIR) + "/data/hardware/default.toml"), built{};
  for (const auto& f : Hardware::fields()) {
    CAPTURE(f.key);
    CHECK(field_string(file, f) == field_string(built, f));
  }
}
