// The analog matrix-product engine for one layer y = W x + b: mapping -> device programming ->
// drift -> DAC -> array read (with read noise) -> ADC -> digital shift-add, accumulation over row
// tiles, unscaling and bias. program(), drift_to() and read() are separate steps so repeated reads
// emulate the same chip. Every random draw is a function of (run.seed, stream, index): results
// are bit-identical at any thread count.
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <memory>
#include <vector>

#include "circuits/dac.h"
#include "common/rng.h"
#include "devices/device_model.h"
#include "engine/config.h"
#include "engine/outliers.h"

namespace xbar {

struct LayerCounters {
  int64_t tiles = 0;             // row tiles x column tiles
  int64_t arrays = 0;            // physical arrays (tiles x slices x arrays per slice)
  double occupancy = 0;          // used cells / physical cells
  int64_t reads = 0;             // read() calls since programming
  int64_t conversions = 0;       // ADC conversions
  int64_t saturations = 0;       // conversions clipped at the ADC range
  int64_t dac_clipped = 0;       // inputs clipped by a static DAC range
  double bytes_per_weight = 0;   // programmed state held per weight
  double ir_drop_severity = 0;   // worst relative column-current shortfall (all-ones input), max over arrays
  int64_t digital_weights = 0;   // weights in the sparse float outlier path
  int64_t digital_channels = 0;  // input channels routed to float in the last read
  int solver_iterations = 0;     // parasitic solver iterations (sum over arrays, last drift step)
  double solver_residual = 0;    // worst parasitic solver residual
  double drift_factor = 1;       // mean digital drift-compensation factor over outputs (1: off)
};

class AnalogLayer {
 public:
  explicit AnalogLayer(const XbarConfig& cfg);  // validates cfg and builds the device model
  ~AnalogLayer();

  // Maps W (out x in) to conductances and programs them (noise, faults) with run.seed + chip.
  // bias (size out, optional) is added digitally. Then drifts to run.t_inference_s.
  void program(const Eigen::Ref<const RowMatrixXf>& W, const float* bias = nullptr, uint64_t chip = 0);
  // Recomputes the read state for time t_s after programming (drift, read-noise sigmas, M) and
  // the drift-compensation factors (drift_compensation.mode).
  void drift_to(double t_s);
  // Sets the calibrated ADC full scale from representative inputs (adc.range = calibrated).
  void calibrate(const Eigen::Ref<const RowMatrixXf>& X);
  // y = W x + b for every row of X (batch x in); returns batch x out.
  RowMatrixXf read(const Eigen::Ref<const RowMatrixXf>& X);

  int in_features() const { return in_; }
  int out_features() const { return out_; }
  const XbarConfig& config() const { return cfg_; }
  const LayerCounters& counters() const { return counters_; }
  const DeviceModel& device() const { return *device_; }
  // Programmed conductances (uS) of physical array a (for tests and inspection).
  const Eigen::MatrixXf& programmed(int64_t a) const;
  double time_s() const { return t_s_; }
  // Extra age (s) of the cells on each input row / output column, for matrices written
  // incrementally (KV cache): cell (i, j) is read at t_s + in_age[i] + out_age[j]. Empty: none.
  // Takes effect at the next drift_to().
  void set_age_offsets(std::vector<float> in_age_s, std::vector<float> out_age_s) {
    in_age_ = std::move(in_age_s);
    out_age_ = std::move(out_age_s);
  }
  // ADC LSBs of every array bank (tiles x slices, in order); set_adc_lsbs restores calibrated
  // ranges on a re-programmed identical chip (saved models).
  std::vector<double> adc_lsbs() const;
  void set_adc_lsbs(const std::vector<double>& lsbs);
  // Advances the read counter (the read-noise stream) as if n reads had happened.
  void skip_reads(int64_t n) { counters_.reads = n; }

  struct Array;  // one physical array's state
  struct Tile;   // one rows x cols block with its slices
  struct NoiseWork {  // scratch of add_read_noise
    RowMatrixXf V2, Var, Z;
    Eigen::VectorXf zref;
  };

 private:
  void check_programmed(const char* what) const;
  // Programmed, X has in_features columns, every entry finite (run() relies on it).
  void check_input(const Eigen::Ref<const RowMatrixXf>& X, const char* what) const;
  struct ReadKeys {
    uint64_t noise, adc;
  };
  // ref: a drift-compensation reference read with its own noise keys (no bias, no factors, no
  // read counter).
  RowMatrixXf run(const Eigen::Ref<const RowMatrixXf>& X, std::vector<std::vector<float>>* collect,
                  const ReadKeys* ref = nullptr);
  void set_read_state(double t_s);  // drift_to without compensation
  // Reference reads at t = 0 (once per programming) and now -> factors; waits for calibrate()
  // when the ADC range is calibrated.
  void update_compensation();
  std::vector<double> reference_response();
  // Adds slice s's read noise to Yk = Vr A (Vr: K stacked input slices of the batch rows b0..).
  void add_read_noise(const Tile& t, size_t s, const Eigen::Ref<const RowMatrixXf, 0, Eigen::OuterStride<>>& Vr,
                      const CounterRng& rng, Eigen::Index B, Eigen::Index b0, int K, NoiseWork& w, RowMatrixXf& Yk) const;

  XbarConfig cfg_;
  std::unique_ptr<DeviceModel> device_;
  int in_ = 0, out_ = 0;
  uint64_t chip_key_ = 0;
  double t_s_ = 0;
  std::vector<Tile> tiles_;
  std::vector<float> bias_;
  OutlierPath outliers_;
  std::vector<float> in_age_, out_age_;
  std::vector<double> comp_baseline_;  // reference response at t = 0 (empty: not read yet)
  std::vector<float> comp_factor_;     // digital factor per output (empty: none)
  LayerCounters counters_;
};

}  // namespace xbar
