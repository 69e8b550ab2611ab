#include "engine/analog_layer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace xbar {

namespace {
// True when no entry is Inf or NaN: an all-ones exponent field, found by an integer OR over
// each row that vectorizes (Eigen's allFinite computes x - x and runs ~10x slower).
// Rows without padding between them are one run (short rows, e.g. an attention head's, would
// otherwise pay the vector loop's setup per row).
bool all_finite(const Eigen::Ref<const RowMatrixXf>& M) {
  const bool dense = M.outerStride() == M.cols();
  const Eigen::Index runs = dense ? std::min<Eigen::Index>(M.rows(), 1) : M.rows(), len = dense ? M.size() : M.cols();
  uint32_t bad = 0;
  for (Eigen::Index i = 0; i < runs; ++i) {
    const float* run = M.data() + i * M.outerStride();
    for (Eigen::Index j = 0; j < len; ++j) {
      uint32_t b;
      std::memcpy(&b, run + j, 4);
      bad |= uint32_t((b & 0x7F800000u) == 0x7F800000u);
    }
  }
  return bad == 0;
}

// M: rows first.. of the matrix `name`.
void check_finite(const Eigen::Ref<const RowMatrixXf>& M, const char* name, Eigen::Index first = 0) {
  if (all_finite(M)) return;  // fast path; the loop below names the first bad entry
  for (Eigen::Index i = 0; i < M.rows(); ++i)
    for (Eigen::Index j = 0; j < M.cols(); ++j)
      if (!std::isfinite(M(i, j)))
        throw InputError(std::string(name) + "[" + std::to_string(first + i) + "][" + std::to_string(j) +
                         "] = " + std::to_string(M(i, j)) + " is not finite");
}

bool adc_range_calibrated(const XbarConfig& cfg) { return !cfg.adc.ideal() && cfg.adc.range == AdcRange::calibrated; }
}  // namespace

AnalogLayer::AnalogLayer(const XbarConfig& cfg) : cfg_(cfg), compensation_(cfg.drift_compensation) {
  cfg_.validate();
  device_ = make_device(cfg_.device);
}

AnalogLayer::~AnalogLayer() = default;

Eigen::MatrixXf AnalogLayer::programmed(uint64_t id) const {
  for (const auto& t : tiles_)
    for (const auto& s : t.arrays)
      for (const auto& a : s)
        if (a.id() == id) return a.programmed_uS();
  throw InputError("programmed(): no physical array " + std::to_string(id));
}

void AnalogLayer::check_programmed(const char* what) const {
  if (tiles_.empty()) throw InputError(std::string(what) + ": layer is not programmed (call program first)");
}

void AnalogLayer::check_input(const Eigen::Ref<const RowMatrixXf>& X, const char* what, bool finite) const {
  check_programmed(what);
  if (X.cols() != in_)
    throw InputError("X has " + std::to_string(X.cols()) + " columns, the layer has " + std::to_string(in_) + " inputs");
  if (finite) check_finite(X, "X");
}

void AnalogLayer::program(const Eigen::Ref<const RowMatrixXf>& W, const float* bias, uint64_t chip) {
  program_with(W, bias, chip, nullptr);
}

void AnalogLayer::program_extended(const Eigen::Ref<const RowMatrixXf>& W, uint64_t chip, std::vector<Tile> earlier) {
  program_with(W, nullptr, chip, &earlier);
}

void AnalogLayer::program_with(const Eigen::Ref<const RowMatrixXf>& W, const float* bias, uint64_t chip,
                               std::vector<Tile>* earlier) {
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
  RowMatrixXf W_split;
  const bool split = outliers_.split_weights(cfg_.outliers, W, W_split);
  const Eigen::Ref<const RowMatrixXf> Wa(split ? Eigen::Ref<const RowMatrixXf>(W_split) : W);
  // Outlier weights are chosen over the whole matrix: growing applies without them only.
  WriteCount grown_write;
  const bool grown = earlier && !earlier->empty() && cfg_.outliers.weight_topk_percent == 0 &&
                     grow_tiles(*earlier, Wa, cfg_.mapping, *device_, chip_key_, cell_order_, &grown_write);
  tiles_ = grown ? std::move(*earlier) : program_tiles(Wa, cfg_.mapping, *device_, chip_key_, cell_order_);
  state_ = ReadState{};
  read_index_ = 0;
  const MappingConfig& mc = cfg_.mapping;
  int64_t n_arrays = 0;
  for (const auto& t : tiles_)
    for (const auto& s : t.arrays) n_arrays += int64_t(s.size());
  counters_ = LayerCounters{};
  // A grown layer writes its new and rescaled cells only.
  const WriteCount written = grown ? grown_write : full_write(tiles_);
  counters_.cells_written = written.cells;
  counters_.rows_written = written.rows;
  counters_.digital_weights = outliers_.digital_weights();
  counters_.tiles = int64_t(tiles_.size());
  counters_.arrays = n_arrays;
  const int phys_cols = mc.tile_cols + (mc.mapping == SignedMapping::offset ? 1 : 0);
  counters_.occupancy = double(int64_t(in_) * out_ * (n_arrays / int64_t(tiles_.size()))) /
                        (double(n_arrays) * mc.tile_rows * phys_cols);
  compensation_.reset();
  drift_to(cfg_.run.t_inference_s);
}

void AnalogLayer::drift_to(double t_s) {
  check_programmed("drift_to");
  if (!(t_s >= 0) || !std::isfinite(t_s)) throw ConfigError("run.t_inference_s", std::to_string(t_s), "must be finite and >= 0");
  if ((!in_age_.empty() && int(in_age_.size()) != in_) || (!out_age_.empty() && int(out_age_.size()) != out_))
    throw InputError("drift_to: age offsets have " + std::to_string(in_age_.size()) + " inputs / " +
                     std::to_string(out_age_.size()) + " outputs, the layer has " + std::to_string(in_) + " / " +
                     std::to_string(out_));
  state_ = read_state(tiles_, t_s, in_age_, out_age_, *device_, cfg_, chip_key_, state_);
  counters_.solver_residual = state_.solver_residual;
  counters_.ir_drop_severity = state_.ir_drop_severity;
  counters_.bytes_per_weight = double(state_.bytes) / (double(in_) * out_);
  update_compensation();
}

void AnalogLayer::update_compensation() {
  if (adc_range_calibrated(cfg_) && !state_.adc_calibrated()) compensation_.suspend();  // calibrate() calls again
  else compensation_.update(state_.t_s, [this](double t_s) { return reference_read(t_s); });
  counters_.drift_factor = compensation_.mean_factor();
}

RowMatrixXf AnalogLayer::reference_read(double t_s) {
  // Keyed by the read time: the reference reads at t are a function of (chip, t) alone.
  uint64_t tbits;
  std::memcpy(&tbits, &t_s, sizeof tbits);
  const RowMatrixXf X = drift_reference_inputs(cfg_.drift_compensation, cfg_.dac, in_);
  const ReadRequest request{ReadKind::drift_reference, tbits};
  if (t_s == state_.t_s) return run(request, X, state_).Y;
  return run(request, X, read_state(tiles_, t_s, in_age_, out_age_, *device_, cfg_, chip_key_, state_)).Y;
}

ReadOutput AnalogLayer::run(ReadRequest request, const Eigen::Ref<const RowMatrixXf>& X, const ReadState& state) {
  return kernel_.run(target(state), request, X);
}

ReadTarget AnalogLayer::target(const ReadState& state) const {
  return ReadTarget{cfg_, tiles_, state, out_, chip_key_, bias_, compensation_.factors()};
}

void AnalogLayer::calibrate(const Eigen::Ref<const RowMatrixXf>& X) { calibrate(X, nullptr); }

RowMatrixXf AnalogLayer::read(const Eigen::Ref<const RowMatrixXf>& X) { return read(X, nullptr); }

RowMatrixXf AnalogLayer::calibrate_and_read(const Eigen::Ref<const RowMatrixXf>& X) {
  KeptProducts kept;
  calibrate(X, &kept);
  return read(X, &kept);
}

void AnalogLayer::calibrate(const Eigen::Ref<const RowMatrixXf>& X, KeptProducts* kept) {
  check_input(X, "calibrate");
  // A range taken from no signal would be arbitrary (and stick to every later read).
  if (X.rows() == 0) throw InputError("calibrate: X has 0 rows; calibration needs at least one input vector");
  outliers_.calibrate(cfg_.outliers, X);
  if (!adc_range_calibrated(cfg_)) return;
  ReadOutput cal;
  if (cfg_.outliers.inputs()) {
    RowMatrixXf Xa = X;
    outliers_.apply(cfg_.outliers, Xa);  // calibrate on what the arrays will see
    cal = run({ReadKind::calibration, 0, kept}, Xa, state_);
  } else {
    cal = run({ReadKind::calibration, 0, kept}, X, state_);
  }
  counters_.dac_clipped += cal.dac_clipped;
  size_t k = 0;
  for (auto& t : state_.tiles)
    for (auto& s : t) {
      double fs = cal.full_scales.at(k++);
      if (fs <= 0) fs = 1e-12;  // all-zero calibration signal: any range reads zero
      s.lsb = adc_lsb(cfg_.adc, fs, 0.0);
    }
  update_compensation();
}

std::vector<double> AnalogLayer::adc_lsbs() const {
  std::vector<double> out;
  for (const auto& t : state_.tiles)
    for (const auto& s : t) out.push_back(s.lsb);
  return out;
}

void AnalogLayer::set_adc_lsbs(const std::vector<double>& lsbs) {
  check_programmed("set_adc_lsbs");
  size_t n = 0;
  for (const auto& t : state_.tiles) n += t.size();
  if (lsbs.size() != n)
    throw InputError("set_adc_lsbs: " + std::to_string(lsbs.size()) + " values for " + std::to_string(n) + " ADC banks");
  size_t k = 0;
  for (auto& t : state_.tiles)
    for (auto& s : t) s.lsb = lsbs[k++];
  update_compensation();
}

std::string AnalogLayer::nonfinite_output(const Eigen::Ref<const RowMatrixXf>& Y) const {
  Eigen::Index i = 0, j = 0;
  bool found = false;
  for (Eigen::Index r = 0; r < Y.rows() && !found; ++r)
    for (Eigen::Index c = 0; c < Y.cols() && !found; ++c)
      if (!std::isfinite(Y(r, c))) i = r, j = c, found = true;
  // Inputs and weights are finite (checked) and the arrays see them normalized, so the first
  // stage that can leave float32 range is the read state (device values) or the digital one.
  std::string stage = "digital unscaling (weight scale x input scale x ADC output, plus bias, exceeds float32's 3.4e38; "
                      "rescale W or X)";
  for (const auto& t : state_.tiles)
    for (const auto& s : t)
      if (!s.A.allFinite() || !s.S2.allFinite() || !s.S2ref.allFinite() || !std::isfinite(s.lsb))
        stage = "read state (drifted conductances or read-noise variances of the device model)";
  return "read: output Y[" + std::to_string(i) + "][" + std::to_string(j) + "] = " + std::to_string(Y(i, j)) +
         " is not finite; first non-finite stage: " + stage;
}

RowMatrixXf AnalogLayer::read(const Eigen::Ref<const RowMatrixXf>& X, KeptProducts* kept) {
  check_input(X, "read", !kept);  // taking kept products: calibrate() checked the same X
  const ReadRequest request{ReadKind::user, read_index_, kept};
  ReadOutput out;
  if (!cfg_.outliers.inputs() && outliers_.digital_weights() == 0) {
    out = run(request, X, state_);
  } else {
    RowMatrixXf Xa = X;
    const RowMatrixXf digital = outliers_.apply(cfg_.outliers, Xa);
    counters_.digital_channels = outliers_.last_channels();
    out = run(request, Xa, state_);
    out.Y += digital;
  }
  return finish_read(X.rows(), std::move(out));
}

RowMatrixXf AnalogLayer::finish_read(Eigen::Index batch, ReadOutput&& out) {
  if (batch > 0) {  // an empty batch reads nothing
    ++read_index_;
    ++counters_.reads;
  }
  counters_.saturations += out.saturations;
  counters_.conversions += out.conversions;
  counters_.dac_clipped += out.dac_clipped;
  if (!all_finite(out.Y)) throw InputError(nonfinite_output(out.Y));
  add_events(batch, out.events);
  return std::move(out.Y);
}

RowMatrixXf AnalogLayer::read(const RowSource& source) {
  check_programmed("read");
  if (source.cols != in_)
    throw InputError("X has " + std::to_string(source.cols) + " columns, the layer has " + std::to_string(in_) + " inputs");
  if (cfg_.outliers.inputs() || outliers_.digital_weights() > 0) {  // the outlier paths take X whole
    RowMatrixXf X(source.rows, source.cols);
    if (X.size() > 0) source.fill(0, X.rows(), X.data());
    return read(X);
  }
  const RowSource checked{source.rows, source.cols, [&](Eigen::Index first, Eigen::Index n, float* out) {
                            source.fill(first, n, out);
                            check_finite(Eigen::Map<const RowMatrixXf>(out, n, source.cols), "X", first);
                          }};
  ReadOutput out = kernel_.run(target(state_), {ReadKind::user, read_index_, nullptr}, checked);
  return finish_read(source.rows, std::move(out));
}

void AnalogLayer::add_events(Eigen::Index batch, const ReadEvents& e) {
  LayerCounters& c = counters_;
  c.vectors += batch;
  c.inputs += int64_t(batch) * in_;
  c.outputs += int64_t(batch) * out_;
  // Digital paths: the sparse outlier weights and the outlier input channels' full columns.
  c.digital_macs += int64_t(batch) * (outliers_.digital_weights() + (cfg_.outliers.inputs() ? outliers_.last_channels() * out_ : 0));
  c.analog_macs += e.analog_macs;
  c.input_pulses += e.input_pulses;
  c.input_drives += e.input_drives;
  c.array_v2g_uS += e.array_v2g_uS;
  c.column_outputs += e.column_outputs;
  c.accumulations += e.accumulations;
}

}  // namespace xbar
