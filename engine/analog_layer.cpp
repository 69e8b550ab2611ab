#include "engine/analog_layer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "circuits/adc.h"
#include "circuits/crossbar.h"
#include "common/normal_fill.h"
#include "common/rng.h"

namespace xbar {

namespace {
// Random streams: each purpose has its own key so draws never collide.
enum Stream : uint64_t { kProg = 1, kFault = 2, kNu = 3, kAdcBank = 4, kReadNoise = 5, kAdcNoise = 6,
                        kRefNoise = 7, kRefAdcNoise = 8 };
// Batch rows per work item: a function of the shapes only, so GEMM blocking and summation order
// never depend on threads. Large chunks amortize packing the tile matrices; 128-row chunks when
// 256-row ones would leave fewer than 4 work items to share.
Eigen::Index batch_chunk(Eigen::Index B, int64_t col_tiles) {
  return ((B + 255) / 256) * col_tiles >= 4 ? 256 : 128;
}
using ColMatrixXf = Eigen::MatrixXf;
// Scratch matrices of one work item in run().
struct ItemWork {
  RowMatrixXf V, Yk, T, acc;
  AnalogLayer::NoiseWork noise;
  std::vector<float> factor;
};
}  // namespace

struct AnalogLayer::Array {
  int64_t id = 0;
  ColMatrixXf g_prog;  // programmed conductances (uS), rows x physical columns
};

struct AnalogLayer::Tile {
  int r0 = 0, c0 = 0, rows = 0, cols = 0;
  std::vector<float> col_scale;             // weight units per unit of normalized cell value
  std::vector<std::vector<Array>> arrays;   // [slice][array of the slice]
  // Read state (from drift_to): per slice the normalized difference matrix and read-noise
  // variances (units of (g_max - g_min)), the ADC LSB and its bank.
  std::vector<ColMatrixXf> A, S2;
  std::vector<Eigen::VectorXf> S2ref;       // offset mapping: reference-column variances (rows)
  std::vector<double> lsb;
  std::vector<AdcBank> adc;
};

AnalogLayer::AnalogLayer(const XbarConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  device_ = make_device(cfg_.device);
}

AnalogLayer::~AnalogLayer() = default;

const Eigen::MatrixXf& AnalogLayer::programmed(int64_t a) const {
  for (const auto& t : tiles_)
    for (const auto& s : t.arrays)
      for (const auto& arr : s)
        if (arr.id == a) return arr.g_prog;
  throw InputError("programmed(): no physical array " + std::to_string(a));
}

void AnalogLayer::check_programmed(const char* what) const {
  if (tiles_.empty()) throw InputError(std::string(what) + ": layer is not programmed (call program first)");
}

namespace {
// True when no entry is Inf or NaN: an all-ones exponent field, found by an integer OR over
// each row that vectorizes (Eigen's allFinite computes x - x and runs ~10x slower).
bool all_finite(const Eigen::Ref<const RowMatrixXf>& M) {
  uint32_t bad = 0;
  for (Eigen::Index i = 0; i < M.rows(); ++i) {
    const float* row = M.row(i).data();
    for (Eigen::Index j = 0; j < M.cols(); ++j) {
      uint32_t b;
      std::memcpy(&b, row + j, 4);
      bad |= uint32_t((b & 0x7F800000u) == 0x7F800000u);
    }
  }
  return bad == 0;
}

void check_finite(const Eigen::Ref<const RowMatrixXf>& M, const char* name) {
  if (all_finite(M)) return;  // fast path; the loop below names the first bad entry
  for (Eigen::Index i = 0; i < M.rows(); ++i)
    for (Eigen::Index j = 0; j < M.cols(); ++j)
      if (!std::isfinite(M(i, j)))
        throw InputError(std::string(name) + "[" + std::to_string(i) + "][" + std::to_string(j) +
                         "] = " + std::to_string(M(i, j)) + " is not finite");
}
}  // namespace

void AnalogLayer::program(const Eigen::Ref<const RowMatrixXf>& W, const float* bias, uint64_t chip) {
  if (W.rows() == 0 || W.cols() == 0) throw InputError("W is empty (" + std::to_string(W.rows()) + " x " + std::to_string(W.cols()) + ")");
  check_finite(W, "W");
  out_ = int(W.rows());
  in_ = int(W.cols());
  bias_.assign(out_, 0.f);
  if (bias)
    for (int j = 0; j < out_; ++j) {
      if (!std::isfinite(bias[j])) throw InputError("bias[" + std::to_string(j) + "] = " + std::to_string(bias[j]) + " is not finite");
      bias_[j] = bias[j];
    }
  chip_key_ = make_key(uint64_t(cfg_.run.seed), chip);
  const RowMatrixXf Wa = outliers_.split_weights(cfg_.outliers, W);
  const MappingConfig& mc = cfg_.mapping;
  const SliceLayout lay = slice_layout(mc);
  const DeviceModel& dev = *device_;
  const double gmin = dev.g_min_uS(), dg = dev.g_max_uS() - dev.g_min_uS();
  const double rate_min = dev.stuck_at_gmin_rate(), rate_max = dev.stuck_at_gmax_rate();

  tiles_.clear();
  int64_t n_arrays = 0;
  for (int c0 = 0; c0 < out_; c0 += mc.tile_cols)
    for (int r0 = 0; r0 < in_; r0 += mc.tile_rows) {
      Tile t;
      t.r0 = r0;
      t.c0 = c0;
      t.rows = std::min(mc.tile_rows, in_ - r0);
      t.cols = std::min(mc.tile_cols, out_ - c0);
      // Crossbar rows are inputs: the tile holds W^T.
      ColMatrixXf w = Wa.block(c0, r0, t.cols, t.rows).transpose();
      t.col_scale.assign(t.cols, 0.f);
      for (int j = 0; j < t.cols; ++j) t.col_scale[j] = w.col(j).cwiseAbs().maxCoeff();
      if (mc.scale == WeightScale::tile) std::fill(t.col_scale.begin(), t.col_scale.end(), *std::max_element(t.col_scale.begin(), t.col_scale.end()));
      for (auto& s : t.col_scale)
        if (s == 0) s = 1;  // an all-zero column maps to zero conductance at any scale
      for (int j = 0; j < t.cols; ++j) w.col(j) /= t.col_scale[j];
      auto cells = map_tile(mc, lay, w);
      t.arrays.resize(cells.size());
      for (size_t s = 0; s < cells.size(); ++s)
        for (auto& c : cells[s]) {
          Array a;
          // The id depends only on the array's place (tile row, tile column, slice, array), so a
          // matrix that grows (a KV cache) keeps the random streams of the cells it already had.
          a.id = ((int64_t(r0 / mc.tile_rows) * 65536 + c0 / mc.tile_cols) * 64 + int64_t(s)) * 2 +
                 int64_t(t.arrays[s].size());
          ++n_arrays;
          a.g_prog.resize(c.rows(), c.cols());
          const CounterRng prog(make_key(chip_key_, kProg), a.id), fault(make_key(chip_key_, kFault), a.id);
          for (Eigen::Index j = 0; j < c.cols(); ++j)
            for (Eigen::Index i = 0; i < c.rows(); ++i) {
              const uint64_t idx = uint64_t(j) * c.rows() + i;
              const double u = fault.uniform(idx);
              double g;
              if (u < rate_min) g = gmin;
              else if (u < rate_min + rate_max) g = gmin + dg;
              else {
                const double target = dev.snap_to_level(gmin + c(i, j) * dg);
                g = dev.program(target, prog.normal(idx), prog.uniform(idx));
              }
              a.g_prog(i, j) = float(g);
            }
          t.arrays[s].push_back(std::move(a));
        }
      tiles_.push_back(std::move(t));
    }
  counters_ = LayerCounters{};
  counters_.digital_weights = outliers_.digital_weights();
  counters_.tiles = int64_t(tiles_.size());
  counters_.arrays = n_arrays;
  const int phys_cols = mc.tile_cols + (mc.mapping == SignedMapping::offset ? 1 : 0);
  counters_.occupancy = double(int64_t(in_) * out_ * (n_arrays / int64_t(tiles_.size()))) /
                        (double(n_arrays) * mc.tile_rows * phys_cols);
  comp_baseline_.clear();
  drift_to(cfg_.run.t_inference_s);
}

void AnalogLayer::drift_to(double t_s) {
  set_read_state(t_s);
  update_compensation();
}

void AnalogLayer::update_compensation() {
  comp_factor_.clear();
  counters_.drift_factor = 1;
  if (!cfg_.drift_compensation.on()) return;
  if (!cfg_.adc.ideal() && cfg_.adc.range == AdcRange::calibrated)
    for (const auto& t : tiles_)
      for (double l : t.lsb)
        if (l <= 0) return;  // calibrate() will call again
  if (comp_baseline_.empty()) {
    const double t = t_s_;
    set_read_state(0);
    comp_baseline_ = reference_response();
    set_read_state(t);
  }
  comp_factor_ = drift_factors(cfg_.drift_compensation, comp_baseline_, reference_response());
  double sum = 0;
  for (float f : comp_factor_) sum += f;
  counters_.drift_factor = sum / double(comp_factor_.size());
}

std::vector<double> AnalogLayer::reference_response() {
  // Keyed by the read time: the reference reads at t are a function of (chip, t) alone and never
  // shift the read-noise stream of the layer's own reads.
  uint64_t tbits;
  std::memcpy(&tbits, &t_s_, sizeof tbits);
  const ReadKeys keys{make_key(chip_key_, kRefNoise, tbits), make_key(chip_key_, kRefAdcNoise, tbits)};
  const LayerCounters saved = counters_;  // reference conversions are not the user's
  const RowMatrixXf Y = run(drift_reference_inputs(cfg_.drift_compensation, cfg_.dac, in_), nullptr, &keys);
  counters_ = saved;
  return drift_reference_response(cfg_.drift_compensation, Y);
}

void AnalogLayer::set_read_state(double t_s) {
  check_programmed("drift_to");
  if (!(t_s >= 0) || !std::isfinite(t_s)) throw ConfigError("run.t_inference_s", std::to_string(t_s), "must be finite and >= 0");
  t_s_ = t_s;
  if ((!in_age_.empty() && int(in_age_.size()) != in_) || (!out_age_.empty() && int(out_age_.size()) != out_))
    throw InputError("drift_to: age offsets have " + std::to_string(in_age_.size()) + " inputs / " +
                     std::to_string(out_age_.size()) + " outputs, the layer has " + std::to_string(in_) + " / " +
                     std::to_string(out_));
  const DeviceModel& dev = *device_;
  const double dg = dev.g_max_uS() - dev.g_min_uS();
  const double t0 = dev.t0_s();
  const double rate_stuck = dev.stuck_at_gmin_rate() + dev.stuck_at_gmax_rate();
  const bool offset = cfg_.mapping.mapping == SignedMapping::offset;
  const SliceLayout lay = slice_layout(cfg_.mapping);
  const bool read_noise = dev.read_scale > 0;
  int iters = 0;
  double resid = 0, severity = 0;
  int64_t bytes = 0;
  // Cells drift by their own exponent (drawn from the same stream at every call, so drift_to(t)
  // is a function of t alone); stuck cells do not drift.
  for (auto& t : tiles_) {
    const size_t S = t.arrays.size();
    const std::vector<double> calibrated_lsb = t.lsb;  // calibrate() ranges stay across drift steps
    t.A.assign(S, ColMatrixXf());
    t.S2.assign(S, ColMatrixXf());
    t.S2ref.assign(S, Eigen::VectorXf());
    t.lsb.assign(S, 0.0);
    t.adc.assign(S, AdcBank());
    for (size_t s = 0; s < S; ++s) {
      std::vector<ColMatrixXf> M(t.arrays[s].size()), var(t.arrays[s].size());
      for (size_t p = 0; p < t.arrays[s].size(); ++p) {
        const Array& a = t.arrays[s][p];
        ColMatrixXf g = a.g_prog;
        const CounterRng nu(make_key(chip_key_, kNu), a.id), fault(make_key(chip_key_, kFault), a.id);
        var[p].resize(g.rows(), g.cols());
        for (Eigen::Index j = 0; j < g.cols(); ++j)
          for (Eigen::Index i = 0; i < g.rows(); ++i) {
            const uint64_t idx = uint64_t(j) * g.rows() + i;
            const double gp = a.g_prog(i, j);
            double gt = gp;
            // Cells written later than programming (KV cache) are younger by their age offset.
            const double tc = t_s + (in_age_.empty() ? 0.0 : in_age_[t.r0 + i]) +
                              (out_age_.empty() || j >= t.cols ? 0.0 : out_age_[t.c0 + j]);
            if (tc > 0 && fault.uniform(idx) >= rate_stuck) {
              const double n = dev.sample_nu(gp, nu.normal(idx));
              if (n != 0) gt = gp * std::pow((tc + t0) / t0, -n);
            }
            g(i, j) = float(gt);
            const double sr = read_noise ? dev.read_scale * dev.read_sigma_uS(gp, gt, tc) / dg : 0.0;
            var[p](i, j) = float(sr * sr);
          }
        SolveStats st;
        M[p] = array_read_matrix(g, cfg_.wires, &st);
        iters += st.iterations;
        resid = std::max(resid, st.residual);
        if (!cfg_.wires.ideal()) {
          // Both functions are ratios of conductances, so microsiemens serve as well as siemens.
          const Eigen::MatrixXd gd = g.cast<double>(), md = M[p].cast<double>();
          severity = std::max(severity, ir_drop_severity(gd, md));
          if (read_noise) var[p].array() *= read_noise_scale(gd, md).array().square().cast<float>();
        }
      }
      const float inv_dg = float(1.0 / dg);
      if (offset) {
        t.A[s] = (M[0].leftCols(t.cols).colwise() - M[0].col(t.cols)) * inv_dg;
        t.S2ref[s] = var[0].col(t.cols);
        var[0] = var[0].leftCols(t.cols).eval();
      } else {
        t.A[s] = (M[0] - M[1]) * inv_dg;
        var[0] += var[1];
      }
      bool any_noise = read_noise && (var[0].maxCoeff() > 0 || (offset && t.S2ref[s].maxCoeff() > 0));
      if (any_noise) t.S2[s] = std::move(var[0]);
      else t.S2ref[s].resize(0);
      // ADC range and bank.
      if (!cfg_.adc.ideal()) {
        // The ADC reference is set per tile for the rows in use (a partial tile has a smaller range).
        const double worst = double(t.rows) * lay.max_abs_diff;
        const double unit = cfg_.dac.unit() * lay.unit;  // grid of the column signal (0: continuous)
        if (cfg_.adc.range == AdcRange::worst_case) t.lsb[s] = adc_lsb(cfg_.adc, worst, unit);
        else if (cfg_.adc.range == AdcRange::fixed) t.lsb[s] = adc_lsb(cfg_.adc, worst * cfg_.adc.fixed_fraction, 0.0);
        else t.lsb[s] = calibrated_lsb.size() == S ? calibrated_lsb[s] : 0;  // 0 until calibrate()
        t.adc[s].draw(cfg_.adc, t.cols, make_key(chip_key_, kAdcBank, t.arrays[s][0].id));
      }
      for (const auto& a : t.arrays[s]) bytes += int64_t(a.g_prog.size()) * 4;
      bytes += int64_t(t.A[s].size() + t.S2[s].size() + t.S2ref[s].size()) * 4;
    }
  }
  counters_.solver_iterations = iters;
  counters_.solver_residual = resid;
  counters_.ir_drop_severity = severity;
  counters_.bytes_per_weight = double(bytes) / (double(in_) * out_);
}

void AnalogLayer::calibrate(const Eigen::Ref<const RowMatrixXf>& X) {
  check_input(X, "calibrate");
  outliers_.calibrate(cfg_.outliers, X);
  if (cfg_.adc.ideal() || cfg_.adc.range != AdcRange::calibrated) return;
  std::vector<std::vector<float>> collect;
  if (cfg_.outliers.inputs()) {
    RowMatrixXf Xa = X;
    outliers_.apply(cfg_.outliers, Xa);  // calibrate on what the arrays will see
    run(Xa, &collect);
  } else {
    run(X, &collect);
  }
  size_t k = 0;
  for (auto& t : tiles_)
    for (size_t s = 0; s < t.A.size(); ++s, ++k) {
      auto& v = collect[k];
      double fs = 0;
      if (!v.empty()) {
        const size_t n = std::min(v.size() - 1, size_t(std::ceil(cfg_.adc.percentile / 100.0 * double(v.size()))) );
        std::nth_element(v.begin(), v.begin() + n, v.end());
        fs = v[n];
      }
      if (fs <= 0) fs = 1e-12;  // all-zero calibration signal: any range reads zero
      t.lsb[s] = adc_lsb(cfg_.adc, fs, 0.0);
    }
  update_compensation();
}

std::vector<double> AnalogLayer::adc_lsbs() const {
  std::vector<double> out;
  for (const auto& t : tiles_) out.insert(out.end(), t.lsb.begin(), t.lsb.end());
  return out;
}

void AnalogLayer::set_adc_lsbs(const std::vector<double>& lsbs) {
  check_programmed("set_adc_lsbs");
  size_t n = 0;
  for (const auto& t : tiles_) n += t.lsb.size();
  if (lsbs.size() != n)
    throw InputError("set_adc_lsbs: " + std::to_string(lsbs.size()) + " values for " + std::to_string(n) + " ADC banks");
  size_t k = 0;
  for (auto& t : tiles_)
    for (auto& l : t.lsb) l = lsbs[k++];
  update_compensation();
}

void AnalogLayer::check_input(const Eigen::Ref<const RowMatrixXf>& X, const char* what) const {
  check_programmed(what);
  if (X.cols() != in_)
    throw InputError("X has " + std::to_string(X.cols()) + " columns, the layer has " + std::to_string(in_) + " inputs");
  check_finite(X, "X");
}

RowMatrixXf AnalogLayer::read(const Eigen::Ref<const RowMatrixXf>& X) {
  check_input(X, "read");
  if (!cfg_.outliers.inputs() && outliers_.digital_weights() == 0) return run(X, nullptr);
  RowMatrixXf Xa = X;
  const RowMatrixXf digital = outliers_.apply(cfg_.outliers, Xa);
  counters_.digital_channels = outliers_.last_channels();
  return run(Xa, nullptr) + digital;
}

RowMatrixXf AnalogLayer::run(const Eigen::Ref<const RowMatrixXf>& X, std::vector<std::vector<float>>* collect,
                             const ReadKeys* ref) {
  if (!collect && !cfg_.adc.ideal() && cfg_.adc.range == AdcRange::calibrated)
    for (const auto& t : tiles_)
      for (double l : t.lsb)
        if (l <= 0) throw InputError("read: adc.range = calibrated but calibrate() was not run");
  const Eigen::Index B = X.rows();
  if (B == 0) return RowMatrixXf::Zero(B, out_);
  RowMatrixXf Y(B, out_);  // every element is written once by the item that owns it
  const DacOutput in = dac_convert(cfg_.dac, X);
  const int K = int(in.weight.size());
  const SliceLayout lay = slice_layout(cfg_.mapping);
  // Calibration reads draw from their own stream so they do not shift the reads that follow.
  const int64_t read_idx = (collect || ref) ? -1 : counters_.reads++;
  const uint64_t noise_key = ref ? ref->noise : make_key(chip_key_, kReadNoise, uint64_t(read_idx));
  const uint64_t adc_key = ref ? ref->adc : make_key(chip_key_, kAdcNoise, uint64_t(read_idx));
  if (collect) {
    collect->clear();
    for (const auto& t : tiles_) collect->resize(collect->size() + t.A.size());
  }
  // Work items: (batch chunk, column tile); each owns its block of Y.
  std::vector<int> col_starts;
  for (const auto& t : tiles_)
    if (col_starts.empty() || col_starts.back() != t.c0) col_starts.push_back(t.c0);
  const Eigen::Index chunk = batch_chunk(B, int64_t(col_starts.size()));
  const Eigen::Index n_chunks = (B + chunk - 1) / chunk;
  const int64_t n_items = n_chunks * int64_t(col_starts.size());
  int64_t sat = 0, conv = 0;
  const int threads = cfg_.run.threads > 0 ? cfg_.run.threads : omp_get_max_threads();
  Eigen::setNbThreads(1);

#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) reduction(+ : sat, conv) if (!collect)
  for (int64_t item = 0; item < n_items; ++item) {
    const Eigen::Index b0 = (item / int64_t(col_starts.size())) * chunk;
    const Eigen::Index nb = std::min(chunk, B - b0);
    const int c0 = col_starts[item % int64_t(col_starts.size())];
    // Per-thread buffers kept across items and reads: fresh ones would cost a page fault per
    // 4 KiB on every read (they are mmap-sized).
    static thread_local ItemWork work;
    RowMatrixXf &V = work.V, &Yk = work.Yk, &T = work.T;
    RowMatrixXf& acc = work.acc;  // this item's block of Y, summed over row tiles and slices
    std::vector<float>& factor = work.factor;
    bool acc_used = false;
    size_t collect_k = 0;
    for (size_t ti = 0; ti < tiles_.size(); ++ti) {
      const Tile& t = tiles_[ti];
      if (t.c0 != c0) {
        collect_k += t.A.size();
        continue;
      }
      if (!acc_used) acc.setZero(nb, t.cols);
      acc_used = true;
      const Eigen::Map<const Eigen::ArrayXf> col_scale(t.col_scale.data(), t.cols);
      // Input voltages of this tile's rows for all slices, stacked: row k*nb + b.
      // One input slice: read the DAC output in place; several: stack them for one GEMM.
      using VRef = Eigen::Ref<const RowMatrixXf, 0, Eigen::OuterStride<>>;
      if (K > 1) {
        V.resize(K * nb, t.rows);
        for (int k = 0; k < K; ++k) V.middleRows(k * nb, nb) = in.stacked.block(k * B + b0, t.r0, nb, t.rows);
      }
      const VRef Vr = K > 1 ? VRef(V) : VRef(in.stacked.block(b0, t.r0, nb, t.rows));
      // Ideal readout (no read noise, no ADC): the slices' GEMMs sum straight into T.
      const bool direct = !collect && cfg_.adc.ideal();
      bool t_used = false;
      for (size_t s = 0; s < t.A.size(); ++s, ++collect_k) {
        if (direct && t.S2[s].size() == 0) {
          for (int k = 0; k < K; ++k) {
            const float w = float(lay.weight[s] * in.weight[k]);
            if (t_used) T.noalias() += w * (Vr.middleRows(k * nb, nb) * t.A[s]);
            else T.noalias() = w * (Vr.middleRows(k * nb, nb) * t.A[s]);
            t_used = true;
          }
          continue;
        }
        Yk.noalias() = Vr * t.A[s];
        const int64_t aid = t.arrays[s][0].id;
        if (t.S2[s].size() > 0) add_read_noise(t, s, Vr, CounterRng(noise_key, uint64_t(aid)), B, b0, K, work.noise, Yk);
        if (collect) {
          auto& c = (*collect)[collect_k];
          for (Eigen::Index i = 0; i < Yk.size(); ++i) c.push_back(std::abs(Yk.data()[i]));
          continue;
        }
        for (int k = 0; k < K; ++k) {
          // Digital shift-add and unscaling: column factor slice weight x input weight x scale.
          const float w = float(lay.weight[s] * in.weight[k]);
          factor.resize(size_t(t.cols));
          Eigen::Map<Eigen::ArrayXf>(factor.data(), t.cols) = w * col_scale;
          if (cfg_.adc.ideal()) {
            acc.array() += Yk.middleRows(k * nb, nb).array().rowwise() * Eigen::Map<const Eigen::ArrayXf>(factor.data(), t.cols).transpose();
          } else {
            const CounterRng rng(adc_key, uint64_t(aid));
            sat += adc_convert_add(cfg_.adc, t.lsb[s], t.adc[s], Yk.middleRows(k * nb, nb), rng, uint64_t(k) * B + b0,
                                   uint64_t(t.cols), factor.data(), acc);
          }
        }
        if (!cfg_.adc.ideal()) conv += int64_t(K) * nb * t.cols;
      }
      if (t_used) acc.array() += T.array().rowwise() * col_scale.transpose();
    }
    if (collect || !acc_used) continue;
    // Input unscaling (per vector) and digital bias, written once into Y.
    const Eigen::Map<const Eigen::ArrayXf> scale(in.scale.data() + b0, nb);
    const Eigen::Map<const Eigen::ArrayXf> bias(bias_.data() + c0, acc.cols());
    auto Yb = Y.block(b0, c0, nb, acc.cols()).array();
    Yb = acc.array().colwise() * scale;
    if (ref) continue;  // drift-compensation reference read: no factors, no bias
    // Drift compensation: digital, after the ADC and before the bias.
    if (!comp_factor_.empty()) Yb.rowwise() *= Eigen::Map<const Eigen::ArrayXf>(comp_factor_.data() + c0, acc.cols()).transpose();
    Yb.rowwise() += bias.transpose();
  }
  counters_.saturations += sat;
  counters_.conversions += conv;
  counters_.dac_clipped += in.clipped;
  return Y;
}

void AnalogLayer::add_read_noise(const Tile& t, size_t s, const Eigen::Ref<const RowMatrixXf, 0, Eigen::OuterStride<>>& Vr,
                                 const CounterRng& rng, Eigen::Index B, Eigen::Index b0, int K, NoiseWork& w,
                                 RowMatrixXf& Yk) const {
  RowMatrixXf &V2 = w.V2, &Var = w.Var, &Z = w.Z;
  Eigen::VectorXf& zref = w.zref;
  // Column noise ~ N(0, Var) with Var = V^2 S2 (DESIGN.md "read noise at batch speed"); with the
  // offset mapping one more normal per read row for the reference column, whose noise is common
  // to every column of the read. Normal (grow, j) of the array's stream is grow * n + j.
  const Eigen::Index nb = Vr.rows() / K;
  const bool ref = t.S2ref[s].size() > 0;
  const Eigen::Index n = t.cols + (ref ? 1 : 0);
  V2 = Vr.cwiseAbs2();
  Var.noalias() = V2 * t.S2[s];
  if (ref) zref.noalias() = V2 * t.S2ref[s];
  // Normals for 16 rows at a time, so they stay in L1 between drawing and use.
  constexpr Eigen::Index kRows = 16;
  Z.resize(kRows, n);
  for (int k = 0; k < K; ++k)
    for (Eigen::Index b = 0; b < nb; b += kRows) {
      const Eigen::Index m = std::min(kRows, nb - b), r0 = k * nb + b;
      fill_normal(rng, (uint64_t(k) * B + b0 + b) * uint64_t(n), m * n, Z.data());
      auto Yr = Yk.middleRows(r0, m).array();
      Yr += Var.middleRows(r0, m).array().sqrt() * Z.topLeftCorner(m, t.cols).array();
      if (ref) Yr.colwise() -= zref.segment(r0, m).array().sqrt() * Z.block(0, t.cols, m, 1).array();
    }
}

}  // namespace xbar
