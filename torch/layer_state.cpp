#include "torch/layer_state.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace xbar {

namespace {
// Chips are numbered 0 .. kMaxChip (a chip number is a random-stream key; training draws a fresh
// chip per step from the whole range).
constexpr int64_t kMaxChip = std::numeric_limits<int64_t>::max();

// float64 values beyond float32's range would become inf in the conversion below: named with
// their value instead ("W[0][1] = 1e+300 overflows float32").
void check_float32_range(const at::Tensor& t, const std::string& what) {
  if (t.scalar_type() != at::kDouble || t.numel() == 0) return;
  const at::Tensor v = t.detach().contiguous().flatten();
  const at::Tensor big = v.abs().gt(double(std::numeric_limits<float>::max())).logical_and(v.isfinite());
  if (!big.any().item<bool>()) return;
  int64_t flat = big.nonzero()[0][0].item<int64_t>();
  std::string at_s;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    at_s = "[" + std::to_string(flat % t.size(d)) + "]" + at_s;
    flat /= t.size(d);
  }
  const int64_t k = big.nonzero()[0][0].item<int64_t>();
  throw InputError(what + at_s + " = " + format_double(v[k].item<double>()) + " overflows float32 (largest 3.4e38)");
}

// A 2-D tensor as contiguous float32 (the tensor itself when it is one already): the engine reads
// it in place through eigen_view, without a copy.
at::Tensor float_contiguous(const at::Tensor& t, const std::string& what) {
  check_float32_range(t, what);
  return t.detach().to(at::kFloat).contiguous();
}
Eigen::Map<const RowMatrixXf> eigen_view(const at::Tensor& c) {
  return Eigen::Map<const RowMatrixXf>(c.data_ptr<float>(), c.size(0), c.size(1));
}
// The engine's result as a tensor that owns its storage (no copy for float32).
at::Tensor to_tensor(RowMatrixXf&& m, at::ScalarType dtype) {
  if (m.size() == 0) return at::empty({m.rows(), m.cols()}, at::TensorOptions().dtype(dtype));
  auto* owner = new RowMatrixXf(std::move(m));
  const at::Tensor t = at::from_blob(
      owner->data(), {owner->rows(), owner->cols()}, [owner](void*) { delete owner; }, at::kFloat);
  return t.to(dtype);
}
// Symmetric per-tensor integer quantization (the digital baseline for activation products).
at::Tensor quantize_sym(const at::Tensor& x, int64_t bits) {
  const double levels = std::ldexp(1.0, int(bits) - 1) - 1.0;
  const double m = x.abs().max().item<double>();
  if (m == 0) return x;
  return at::round(x * (levels / m)) * (m / levels);
}
// a[r * lda + c] == b[r * ldb + c] for every r < rows, c < cols, as values (-0 == 0), except that a
// row of equal bytes is equal even with a NaN (no caller keeps one: the engine rejects non-finite
// operands). Rows are compared as bytes first (memcmp runs at memory speed; a float loop with an
// early exit does not vectorize), as values only where the bytes differ.
bool equal_floats(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = a + r * lda, *y = b + r * ldb;
    if (std::memcmp(x, y, size_t(cols) * sizeof(float)) == 0) continue;
    for (int64_t c = 0; c < cols; ++c)
      if (!(x[c] == y[c])) return false;
  }
  return true;
}
// `t` holds the values `kept` (a detached copy of what was programmed): same dtype, shape and
// elements, whichever tensor object carries them. Contiguous float32 (every weight the converter
// writes) is compared directly: at::equal's iterator costs a decode step's read of the weights.
bool same_values(const at::Tensor& kept, const at::Tensor& t) {
  if (!kept.defined() || kept.scalar_type() != t.scalar_type() || kept.sizes() != t.sizes()) return false;
  if (t.scalar_type() == at::kFloat && kept.is_contiguous() && t.is_contiguous())
    return equal_floats(kept.data_ptr<float>(), 0, t.data_ptr<float>(), 0, 1, t.numel());
  return at::equal(kept, t.detach());
}
std::string join_doubles(const std::vector<double>& v) {
  std::string s;
  for (double x : v) s += (s.empty() ? "" : ",") + format_double(x);
  return s;
}
std::vector<double> split_doubles(const std::string& s) {
  std::vector<double> v;
  size_t a = 0;
  while (a < s.size()) {
    size_t b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    v.push_back(std::stod(s.substr(a, b - a)));
    a = b + 1;
  }
  return v;
}
}  // namespace

XbarLayer::XbarLayer(std::string name, OpClass op_class, OpMode mode, int64_t digital_bits, XbarConfig cfg)
    : name_(std::move(name)), op_class_(op_class), mode_(mode), digital_bits_(digital_bits), cfg_(std::move(cfg)) {
  TORCH_CHECK(digital_bits_ == 0 || (digital_bits_ >= 2 && digital_bits_ <= 24), "xbar layer ", name_,
              ": digital_bits must be 0 (float) or 2..24, got ", digital_bits_);
  cfg_.validate();
  t_s_ = cfg_.run.t_inference_s;
}

namespace {
template <class E>
E layer_choice(const std::string& layer, const char* what, const std::string& text) {
  std::string why;
  try {
    return parse_enum<E>(what, text);
  } catch (const ConfigError& e) {
    why = e.what();
  }
  TORCH_CHECK(false, "xbar layer ", layer, ": ", why);
  return E{};
}
XbarConfig layer_config(const std::string& layer, const std::string& toml) {
  XbarConfig c;
  apply_toml_string(c, toml, "layer " + layer);
  return c;
}
}  // namespace

XbarLayer::XbarLayer(std::string name, const std::string& op_class, const std::string& mode, int64_t digital_bits,
                     const std::string& config_toml)
    : XbarLayer(name, layer_choice<OpClass>(name, "op_class", op_class), layer_choice<OpMode>(name, "mode", mode),
                digital_bits, layer_config(name, config_toml)) {}

XbarConfig XbarLayer::config() const {
  std::lock_guard<std::mutex> g(mu_);
  return cfg_;
}

std::string XbarLayer::config_toml() const { return to_toml(config()); }

void XbarLayer::ensure_layer() {
  if (layer_) return;
  layer_ = std::make_unique<AnalogLayer>(cfg_);
  layer_->count_events(count_events_);
}

void XbarLayer::count_events(bool on) {
  std::lock_guard<std::mutex> g(mu_);
  count_events_ = on;
  if (layer_) layer_->count_events(on);
}

void XbarLayer::program(const at::Tensor& weight, const c10::optional<at::Tensor>& bias, int64_t chip) {
  std::lock_guard<std::mutex> g(mu_);
  TORCH_CHECK(weight.dim() == 2, "xbar layer ", name_, ": weight must be 2-D (out x in), got ", weight.sizes());
  ensure_layer();
  chip_ = chip;
  TORCH_CHECK(chip >= 0 && chip <= kMaxChip, "xbar layer ", name_, ": chip ", chip, " is out of range 0 .. ", kMaxChip);
  const at::Tensor W = float_contiguous(weight, "xbar layer " + name_ + ": weight");
  std::vector<float> b;
  if (bias && bias->defined()) {
    TORCH_CHECK(bias->numel() == weight.size(0), "xbar layer ", name_, ": bias has ", bias->numel(),
                " entries, weight has ", weight.size(0), " outputs");
    const at::Tensor bc = bias->detach().to(at::kFloat).contiguous();
    b.assign(bc.data_ptr<float>(), bc.data_ptr<float>() + bc.numel());
  }
  const bool same_weights = same_values(prog_w_, weight) &&
                            ((bias && bias->defined()) ? same_values(prog_b_, *bias) : !prog_b_.defined());
  if (prog_w_.defined() && !same_weights) {  // new weights: calibrate again
    adc_lsbs_.clear();
    calibration_source_.clear();
  }
  layer_->program(eigen_view(W), b.empty() ? nullptr : b.data(), uint64_t(chip));
  if (!adc_lsbs_.empty()) layer_->set_adc_lsbs(adc_lsbs_);
  prog_w_ = weight.detach().clone();
  prog_b_ = (bias && bias->defined()) ? bias->detach().clone() : at::Tensor();
  // Continue the read-noise stream where a saved model stopped.
  layer_->set_read_index(uint64_t(reads_));
  if (t_s_ != cfg_.run.t_inference_s) layer_->drift_to(t_s_);  // program() drifted to the config's time
  programmed_ = true;
}

void XbarLayer::drift_to(double t_s) {
  std::lock_guard<std::mutex> g(mu_);
  TORCH_CHECK(std::isfinite(t_s) && t_s >= 0, "xbar layer ", name_, ": drift time must be finite and >= 0, got ", t_s);
  t_s_ = t_s;
  if (programmed_) layer_->drift_to(t_s);
}

void XbarLayer::reset() {
  std::lock_guard<std::mutex> g(mu_);
  programmed_ = false;
  adc_lsbs_.clear();
  calibration_source_.clear();
  reads_ = 0;
  calls_ = 0;
  seqs_ = 0;
  slots_.clear();
  totals_ = LayerCounters{};
  t_s_ = cfg_.run.t_inference_s;
}

void XbarLayer::set_chip(int64_t chip) {
  TORCH_CHECK(chip >= 0 && chip <= kMaxChip, "xbar layer ", name_, ": chip ", chip, " is out of range 0 .. ", kMaxChip);
  std::lock_guard<std::mutex> g(mu_);
  chip_ = chip;
  programmed_ = false;
  adc_lsbs_.clear();
  calibration_source_.clear();
}

RowMatrixXf XbarLayer::read_named(const Eigen::Ref<const RowMatrixXf>& X, bool calibrate_first) {
  return named([&] { return calibrate_first ? layer_->calibrate_and_read(X) : layer_->read(X); });
}

template <class F>
RowMatrixXf XbarLayer::named(F&& read) {
  try {
    return read();
  } catch (const InputError& e) {
    throw InputError("xbar layer " + name_ + ": " + e.what());
  }
}

void XbarLayer::add_counters(const LayerCounters& c) { merge_counters(totals_, c); }

void XbarLayer::count_digital(int64_t vectors, int64_t in, int64_t out, int64_t macs) {
  std::lock_guard<std::mutex> g(mu_);
  if (!count_events_) return;
  totals_.vectors += vectors;
  totals_.inputs += vectors * in;
  totals_.outputs += vectors * out;
  totals_.digital_macs += macs / groups_;  // a grouped weight's off-diagonal zero blocks do no work
}

LayerCounters XbarLayer::counter_values() const {
  std::lock_guard<std::mutex> g(mu_);
  LayerCounters c = totals_;
  if (has_weights(op_class_) && layer_ && programmed_) {
    c = layer_->counters();
    c.reads = reads_;  // reads of this chip, across re-programmings and saved models
    c.occupancy /= double(groups_);  // off-diagonal blocks hold zeros, not weights
  }
  return c;
}

c10::Dict<std::string, double> XbarLayer::counters() const {
  const LayerCounters c = counter_values();
  std::lock_guard<std::mutex> g(mu_);
  c10::Dict<std::string, double> d;
  for (const CounterField& f : counter_fields()) d.insert(f.name, counter_value(c, f));
  d.insert("t_inference_s", t_s_);
  d.insert("chip", double(chip_));
  return d;
}

at::Tensor XbarLayer::linear(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias) {
  if (mode_ == OpMode::digital) {
    count_digital(x.size(0), weight.size(1), weight.size(0), x.size(0) * weight.size(1) * weight.size(0));
    if (digital_bits_ == 0) return at::linear(x, weight, bias);
    return at::linear(quantize_sym(x, digital_bits_), quantize_sym(weight, digital_bits_), bias);
  }
  program_if_changed(weight, bias);
  std::lock_guard<std::mutex> g(mu_);
  const at::Tensor xc = float_contiguous(x, "xbar layer " + name_ + ": input");
  const Eigen::Map<const RowMatrixXf> X = eigen_view(xc);
  // adc.range = calibrated: ranges come from a calibration pass only; an empty batch reads nothing.
  const bool calibrate = X.rows() > 0 && calibrating_ && needs_ranges(cfg_, mode_);
  if (X.rows() > 0 && !calibrate) require_ranges();
  RowMatrixXf Y = read_named(X, calibrate);
  if (calibrate) adc_lsbs_ = layer_->adc_lsbs();
  reads_ = int64_t(layer_->read_index());
  return to_tensor(std::move(Y), x.scalar_type());
}

at::Tensor XbarLayer::linear(const RowSource& rows, const at::Tensor& weight, const c10::optional<at::Tensor>& bias) {
  bool whole;
  {
    std::lock_guard<std::mutex> g(mu_);
    whole = mode_ == OpMode::digital || (rows.rows > 0 && calibrating_ && needs_ranges(cfg_, mode_));
  }
  if (whole) {  // digital products and calibration passes take the rows at once
    at::Tensor x = at::empty({int64_t(rows.rows), int64_t(rows.cols)}, at::kFloat);
    if (x.numel() > 0) rows.fill(0, rows.rows, x.data_ptr<float>());
    return linear(x, weight, bias);
  }
  program_if_changed(weight, bias);
  std::lock_guard<std::mutex> g(mu_);
  if (rows.rows > 0) require_ranges();
  RowMatrixXf Y = named([&] { return layer_->read(rows); });
  reads_ = int64_t(layer_->read_index());
  return to_tensor(std::move(Y), at::kFloat);
}

void XbarLayer::program_if_changed(const at::Tensor& weight, const c10::optional<at::Tensor>& bias) {
  bool stale;
  {
    std::lock_guard<std::mutex> g(mu_);
    // Re-program when the weight values changed, compared by value (costs less than one read):
    // in-place and .data writes are changes whatever the version counter says, and a weight that
    // arrives as a new tensor every call (a grouped conv's block-diagonal matrix under autograd, a
    // module's weight.clone()) with the same values keeps its chip.
    const bool has_bias = bias && bias->defined();
    stale = !programmed_ || !same_values(prog_w_, weight) || has_bias != prog_b_.defined() ||
            (has_bias && !same_values(prog_b_, *bias));
  }
  if (stale) program(weight, bias, chip_);
}

at::Tensor XbarLayer::block_diagonal(const at::Tensor& w2d, int64_t groups) {
  TORCH_CHECK(w2d.dim() == 2 && groups >= 1 && w2d.size(0) % groups == 0, "xbar layer ", name_,
              ": a grouped weight must be 2-D with rows divisible by groups = ", groups, ", got ", w2d.sizes());
  auto build = [&] { return at::block_diag(w2d.split(w2d.size(0) / groups)); };
  std::lock_guard<std::mutex> g(mu_);
  groups_ = groups;
  if (at::GradMode::is_enabled() && w2d.requires_grad()) return build();
  if (!block_.defined() || !same_values(block_src_, w2d)) {
    block_src_ = w2d.detach().clone();
    block_ = at::block_diag(block_src_.split(w2d.size(0) / groups));
  }
  return block_;
}

at::Tensor XbarLayer::matmul_batch(const at::Tensor& A, const at::Tensor& B) {
  if (mode_ == OpMode::digital) {
    count_digital(A.size(0) * A.size(1), A.size(2), B.size(2), A.size(0) * A.size(1) * A.size(2) * B.size(2));
    if (digital_bits_ == 0) return at::bmm(A, B);
    return at::bmm(quantize_sym(A, digital_bits_), quantize_sym(B, digital_bits_));
  }
  std::lock_guard<std::mutex> g(mu_);
  ensure_layer();
  const int64_t step = calls_++;
  const bool tokens_in_cols = op_class_ == OpClass::attn_qk;  // K^T: one column per token; V: one row
  const int64_t S = B.size(0), n = A.size(1), k = A.size(2), m = B.size(2);
  if (int64_t(slots_.size()) < S) slots_.resize(S);
  // Every slice's stationary operand in float32 at once, W = B^T (slice i is W[i], m x k: for attn_qk
  // its rows are the tokens, for attn_av its columns), our own copy: what the arrays hold must not
  // change when B does in place later.
  at::Tensor W = float_contiguous(B.transpose(1, 2), "xbar layer " + name_ + ": stationary operand");
  if (W.is_alias_of(B)) W = W.clone();
  const at::Tensor Af = float_contiguous(A, "xbar layer " + name_ + ": input");
  at::Tensor out = at::empty({S, n, m}, at::kFloat);
  // Stream order along the token dimension, so the tokens already written keep their draws.
  layer_->set_cell_order(tokens_in_cols ? CellOrder::column_major : CellOrder::row_major);
  const int w_tok = tokens_in_cols ? 0 : 1;  // the token dimension of W[i]
  const float* W_data = W.data_ptr<float>();
  for (int64_t i = 0; i < S; ++i) {
    const float* w_i = W_data + i * m * k;  // W[i], m x k
    KvSlot& slot = slots_[i];
    const int64_t T = w_tok == 0 ? m : k, prev = int64_t(slot.written_step.size());
    // Decode appends tokens: a strictly longer operand whose first tokens are what the array holds.
    bool extends = slot.w && prev < T && (tokens_in_cols ? slot.w_cols == k : slot.w_rows == m);
    if (extends) {
      extends = tokens_in_cols ? equal_floats(w_i, 0, slot.w, 0, 1, prev * k)  // the first prev rows
                               : equal_floats(w_i, T, slot.w, prev, m, prev);  // each row's first prev
    }
    if (!extends) {
      slot.seq = seqs_++;
      slot.written_step.assign(size_t(T), step);
    } else {
      slot.written_step.resize(size_t(T), step);
    }
    slot.w_call = W;
    slot.w = w_i;
    slot.w_rows = m;
    slot.w_cols = k;
    std::vector<float> age(static_cast<size_t>(T), 0.f);
    for (int64_t t = 0; t < T; ++t) age[size_t(t)] = float(double(step - slot.written_step[size_t(t)]) * cfg_.run.token_interval_s);
    if (tokens_in_cols) layer_->set_age_offsets({}, std::move(age));
    else layer_->set_age_offsets(std::move(age), {});
    const uint64_t chip = uint64_t(chip_) * 1000003ull + uint64_t(slot.seq);
    const Eigen::Map<const RowMatrixXf> w(w_i, m, k);
    // The tokens already written keep their cells; only the new ones are drawn.
    if (extends && slot.chip == chip && !slot.tiles.empty()) layer_->program_extended(w, chip, std::move(slot.tiles));
    else layer_->program(w, nullptr, chip);
    slot.chip = chip;
    if (t_s_ != cfg_.run.t_inference_s) layer_->drift_to(t_s_);
    const Eigen::Map<const RowMatrixXf> a(Af.data_ptr<float>() + i * n * k, n, k);
    if (a.rows() > 0) {
      if (!needs_ranges(cfg_, mode_)) layer_->calibrate(a);  // outlier channels (input_threshold)
      else if (calibrating_) calibrate_operand(a);
      else apply_operand_range();
    }
    const RowMatrixXf Y = read_named(a);
    add_counters(layer_->counters());  // cells_written: the new and rewritten cells of a grown operand
    std::copy(Y.data(), Y.data() + Y.size(), out.data_ptr<float>() + i * n * m);
    slot.tiles = layer_->take_tiles();  // the slice's arrays, kept for the tokens that follow
  }
  return out.to(A.scalar_type());
}

void XbarLayer::learn_input_range(bool on) {
  std::lock_guard<std::mutex> g(mu_);
  if (!trainable()) return;
  learn_range_ = on;
  if (!on) {
    range_ = at::Tensor();
    return;
  }
  cfg_.dac.range = DacRange::static_;
  cfg_.dac.static_range = 1.0;
  cfg_.validate();
  layer_.reset();
  programmed_ = false;
  adc_lsbs_.clear();
}

at::Tensor XbarLayer::input_range(const at::Tensor& x) {
  std::lock_guard<std::mutex> g(mu_);
  if (!learn_range_) return at::Tensor();
  if (!range_.defined()) {
    const at::Tensor a = x.detach().abs().flatten().to(at::kFloat);
    const int64_t k = std::max<int64_t>(1, int64_t(std::ceil(0.999 * double(a.numel()))));
    double r = std::get<0>(a.kthvalue(k)).item<double>();
    if (!(r > 0)) r = std::max(a.max().item<double>(), 1e-3);  // all-zero first batch
    range_ = at::full({}, r, at::kDouble).requires_grad_(true);
  }
  return range_;
}

void XbarLayer::set_input_range(double r) {
  std::lock_guard<std::mutex> g(mu_);
  TORCH_CHECK(learn_range_, "xbar layer ", name_, ": set_input_range needs learn_input_range(true)");
  TORCH_CHECK(std::isfinite(r) && r > 0, "xbar layer ", name_, ": input range must be finite and > 0, got ", r);
  if (range_.defined()) {
    at::NoGradGuard ng;
    range_.fill_(r);  // in place: an optimizer holding this tensor keeps training it
  } else {
    range_ = at::full({}, r, at::kDouble).requires_grad_(true);
  }
}

int XbarLayer::dac_levels() const {
  if (cfg_.dac.bits == 0) return 0;
  return int(std::ldexp(1.0, cfg_.dac.magnitude_bits())) - 1;
}

std::vector<std::string> XbarLayer::state() const {
  std::lock_guard<std::mutex> g(mu_);
  return {"xbar-layer-v2", name_, enum_string(op_class_), enum_string(mode_), std::to_string(digital_bits_), to_toml(cfg_),
          std::to_string(chip_), format_double(t_s_), std::to_string(reads_), std::to_string(calls_),
          std::to_string(seqs_), join_doubles(adc_lsbs_), calibration_source_};
}

c10::intrusive_ptr<XbarLayer> XbarLayer::from_state(const std::vector<std::string>& s) {
  // v1: without the calibration source.
  const bool v1 = s.size() == 12 && s[0] == "xbar-layer-v1", v2 = s.size() == 13 && s[0] == "xbar-layer-v2";
  TORCH_CHECK(v1 || v2, "xbar: unrecognised saved layer state (", s.size(),
              " fields); was the model saved by a different xbar version?");
  auto l = c10::make_intrusive<XbarLayer>(s[1], s[2], s[3], std::stoll(s[4]), s[5]);
  l->chip_ = std::stoll(s[6]);
  l->t_s_ = std::stod(s[7]);
  l->reads_ = std::stoll(s[8]);
  l->calls_ = std::stoll(s[9]);
  l->seqs_ = std::stoll(s[10]);
  l->adc_lsbs_ = split_doubles(s[11]);
  if (v2) l->calibration_source_ = s[12];
  return l;
}

}  // namespace xbar
