// Programmed state of one converted layer, as a TorchScript custom class (torch.classes.xbar.Layer):
// its configuration, the emulated chip (conductances, read matrices, ADC banks) and counters.
// Pickling stores only (name, op class, mode, config as TOML, chip, time, read count): programming
// is a pure function of (seed, chip, weights), so a loaded model re-programs the identical chip.
#pragma once
#include <ATen/ATen.h>
#include <torch/custom_class.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/analog_layer.h"
#include "engine/cost.h"
#include "engine/policy_choices.h"

namespace xbar {

// True when a layer of this config and mode reads through calibrated ADC ranges.
bool needs_ranges(const XbarConfig& cfg, OpMode mode);

class XbarLayer : public torch::CustomClassHolder {
 public:
  // digital mode: float (digital_bits 0) or integer-quantized at digital_bits (2..24).
  XbarLayer(std::string name, OpClass op_class, OpMode mode, int64_t digital_bits, XbarConfig cfg);
  // The same from text (TorchScript constructor and unpickling): class and mode by name, the
  // config as TOML sections. c10::Error naming the layer for a bad name, ConfigError/FileError
  // for a bad config.
  XbarLayer(std::string name, const std::string& op_class, const std::string& mode, int64_t digital_bits,
            const std::string& config_toml);

  // Programs W (out x in, any float dtype) and bias onto the chip with index `chip`.
  void program(const at::Tensor& weight, const c10::optional<at::Tensor>& bias, int64_t chip);
  void drift_to(double t_s);
  // Forgets the programmed chip: the next forward programs again (same chip index).
  void reset();
  void set_chip(int64_t chip);
  // Per-layer counters (tiles, arrays, occupancy, conversions, saturations, ...).
  c10::Dict<std::string, double> counters() const;
  // Counting of the cost model's read events (on by default); off only to measure its overhead.
  void count_events(bool on);
  LayerCounters counter_values() const;  // the same as a struct
  // Attention operands are written at every call: their cell writes are part of each inference.
  bool writes_per_inference() const { return !has_weights(op_class_); }
  // Cost of everything counted since programming, per inference (engine/cost.h).
  LayerCost cost(const Hardware& hw, double inferences) const {
    return per_inference(layer_cost(hw, cfg_, counter_values(), writes_per_inference()), inferences);
  }

  // y = x W^T + b for x (N x in); programs lazily, and again when the values of W or b differ from
  // what was programmed (not when the same values come in another tensor).
  at::Tensor linear(const at::Tensor& x2d, const at::Tensor& weight, const c10::optional<at::Tensor>& bias);
  // The same for the rows of `rows` (a convolution's patches), read a block at a time
  // (AnalogLayer::read(const RowSource&)); float32 output.
  at::Tensor linear(const RowSource& rows, const at::Tensor& weight, const c10::optional<at::Tensor>& bias);
  // Grouped convolution: the O x (groups K) block-diagonal matrix whose g-th diagonal block is rows
  // [g O/groups, (g+1) O/groups) of w2d (O x K). The same tensor is returned while w2d's contents
  // stay (the layer is programmed once); a fresh, differentiable one when w2d requires grad.
  // The counters' occupancy then counts the blocks' cells only (1/groups of the matrix).
  at::Tensor block_diagonal(const at::Tensor& w2d, int64_t groups);

  // Activation products A[s] (n x k) times B[s] (k x m) for every slice s (batch x heads). B is
  // the stationary operand (K^T for attn_qk, V for attn_av), written to arrays as tokens arrive:
  // when B[s] extends the previous call's B[s] by new tokens (KV-cache decode), the earlier
  // tokens keep their programmed cells (same noise) and age by run.token_interval_s per step.
  at::Tensor matmul_batch(const at::Tensor& A, const at::Tensor& B);

  // Noise-aware training: learn this layer's input range r (input units mapped to the DAC's full
  // scale). The layer then reads clamp(x / r) through a static DAC of range 1 and scales the result
  // by r, which equals a static DAC of range r (export: dac.range = "static", static_range = r).
  // Analog linear/conv layers only; a no-op for others.
  void learn_input_range(bool on);
  bool learns_input_range() const { return learn_range_; }
  // The learned range as a 0-dim float64 tensor that requires grad; on first use initialised from
  // x (the 99.9th percentile of |x|, so rare outliers clip). Undefined unless learning.
  at::Tensor input_range(const at::Tensor& x);
  at::Tensor input_range() const { return range_; }
  void set_input_range(double r);
  int dac_levels() const;  // DAC magnitude levels (0: unquantized)

  // Calibration (torch/layer_calibration.cpp). A layer whose ADC range is calibrated reads only
  // after a calibration pass: in calibration mode every product sets its ranges from its own
  // inputs (linear/conv: per ADC bank; attention: one full scale for the layer, the largest bank
  // full scale over all calibration operands, applied to every operand programmed later).
  // Outside it, reading without ranges throws (no silent calibration on evaluation data).
  void set_calibrating(bool on);
  bool calibrating() const;
  bool needs_calibration() const;  // analog, adc.range = calibrated, ADC not ideal
  bool calibrated() const;         // ranges present (or none needed)
  std::vector<double> adc_lsbs() const;  // this chip's calibrated ADC LSBs (empty: none)
  // Where the ranges came from (data set, split, count, seed); stored with the model.
  void set_calibration_source(const std::string& s);
  std::string calibration_source() const;
  bool dac_signed() const { return cfg_.dac.is_signed; }
  // An analog weight product (linear, conv, lm_head): the layers whose input range can be learned.
  bool trainable() const { return mode_ == OpMode::analog && has_weights(op_class_); }

  std::vector<std::string> state() const;  // for pickling
  static c10::intrusive_ptr<XbarLayer> from_state(const std::vector<std::string>& s);

  const std::string& name() const { return name_; }
  OpClass op_class() const { return op_class_; }
  OpMode mode() const { return mode_; }
  int64_t digital_bits() const { return digital_bits_; }
  XbarConfig config() const;
  std::string config_toml() const;  // every key, as stored in the pickle
  double time_s() const { return t_s_; }

 private:
  void ensure_layer();
  void add_counters(const LayerCounters& c);
  // layer_->read (after layer_->calibrate on the same inputs when calibrate_first); errors name this layer
  RowMatrixXf read_named(const Eigen::Ref<const RowMatrixXf>& X, bool calibrate_first = false);
  template <class F>
  RowMatrixXf named(F&& read);  // read(), its input errors naming this layer
  void program_if_changed(const at::Tensor& weight, const c10::optional<at::Tensor>& bias);
  bool has_ranges() const;  // ranges present or none needed (caller holds mu_)
  void require_ranges() const;                          // throws when needed and absent
  void calibrate_operand(const Eigen::Ref<const RowMatrixXf>& a);       // attention, calibration mode
  void apply_operand_range();                           // attention, after programming an operand
  void count_digital(int64_t vectors, int64_t in, int64_t out, int64_t macs);

  std::string name_;
  OpClass op_class_;
  OpMode mode_;
  int64_t digital_bits_ = 0;
  XbarConfig cfg_;
  int64_t chip_ = 0;
  double t_s_;
  int64_t reads_ = 0;          // reads so far (restored on load: read noise continues its stream)
  int64_t calls_ = 0;          // activation-product calls so far (decode steps)
  std::unique_ptr<AnalogLayer> layer_;
  bool programmed_ = false;
  at::Tensor prog_w_, prog_b_;        // copies of what was programmed (the cache key: values)
  bool count_events_ = true;
  bool learn_range_ = false;
  at::Tensor range_;                  // learned input range (training)
  std::vector<double> adc_lsbs_;      // calibrated ADC ranges of this chip (empty: not calibrated;
                                      // attention: one LSB for every bank)
  bool calibrating_ = false;
  std::string calibration_source_;    // provenance of adc_lsbs_
  int64_t groups_ = 1;                // block-diagonal weight of a grouped convolution
  at::Tensor block_src_, block_;      // its source rows and the cached block-diagonal matrix
  LayerCounters totals_;              // accumulated over activation-product calls
  struct KvSlot {
    at::Tensor w_call;                  // its call's copy of every slice's operand, which keeps w valid
    const float* w = nullptr;           // what this slice's array holds, W[i]: w_rows x w_cols, row-major
    int64_t w_rows = 0, w_cols = 0;
    std::vector<int64_t> written_step;  // step at which each token was written
    int64_t seq = 0;                    // sequence id: selects the programming-noise stream
    uint64_t chip = 0;                  // the chip number its tiles were programmed with
    std::vector<Tile> tiles;            // its programmed cells, grown as tokens arrive
  };
  std::vector<KvSlot> slots_;
  int64_t seqs_ = 0;  // sequences started (prefills)
  mutable std::mutex mu_;
};

}  // namespace xbar
