// The analog matrix-product engine for one layer y = W x + b, coordinating its stages: mapping
// and programming (tile.h, circuits/physical_array.h) -> read state at a time after programming
// (drift, read-noise variances, wire parasitics, ADC ranges) -> reads (read_kernel.h) -> digital
// drift compensation (drift_compensation.h). program(), drift_to() and read() are separate steps
// so repeated reads emulate the same chip. Every random draw is a function of (run.seed, stream,
// index) (circuits/rng_streams.h): results are bit-identical at any thread count.
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/matrix.h"
#include "devices/device_model.h"
#include "engine/config.h"
#include "engine/drift_compensation.h"
#include "engine/layer_counters.h"
#include "engine/outliers.h"
#include "engine/read_kernel.h"
#include "engine/row_source.h"
#include "engine/tile.h"

namespace xbar {

class AnalogLayer {
 public:
  explicit AnalogLayer(const XbarConfig& cfg);  // validates cfg and builds the device model
  ~AnalogLayer();

  // Maps W (out x in) to conductances and programs them (noise, faults) with run.seed + chip.
  // bias (size out, optional) is added digitally. Then drifts to run.t_inference_s.
  void program(const Eigen::Ref<const RowMatrixXf>& W, const float* bias = nullptr, uint64_t chip = 0);
  // program(W, nullptr, chip) for a W that extends the matrix of `earlier` (the tiles() of an
  // earlier programming of this layer with the same chip and cell order) by output rows
  // (CellOrder::column_major) or input columns (row_major), as a KV cache grows: the cells already
  // programmed keep their conductances and only the new ones are drawn, which is program()'s result
  // bit for bit (each cell's draws are keyed by its stream index). A kept column whose scale grew
  // is written again; every cell is programmed when all kept columns of a tile rescale, with the
  // offset mapping or outlier weights (outliers.weight_topk_percent > 0). cells_written counts
  // the cells programmed.
  void program_extended(const Eigen::Ref<const RowMatrixXf>& W, uint64_t chip, std::vector<Tile> earlier);
  // Recomputes the read state for time t_s after programming (drift, read-noise sigmas, M) and
  // the drift-compensation factors (drift_compensation.mode).
  void drift_to(double t_s);
  // Sets the calibrated ADC full scale from representative inputs (adc.range = calibrated); X
  // needs at least one row.
  void calibrate(const Eigen::Ref<const RowMatrixXf>& X);
  // y = W x + b for every row of X (batch x in); returns batch x out (0 x out for an empty
  // batch, calibrated or not). A non-finite output is an InputError naming the entry and stage.
  RowMatrixXf read(const Eigen::Ref<const RowMatrixXf>& X);
  // read(X) for the rows of `source`, taken a block at a time (engine/row_source.h): the same
  // output, counters and errors (a non-finite input names its row in X).
  RowMatrixXf read(const RowSource& source);
  // calibrate(X) then read(X), with the same results, computing the array products once
  // (KeptProducts): a forward that calibrates on its own batch.
  RowMatrixXf calibrate_and_read(const Eigen::Ref<const RowMatrixXf>& X);

  int in_features() const { return in_; }
  int out_features() const { return out_; }
  const XbarConfig& config() const { return cfg_; }
  const LayerCounters& counters() const { return counters_; }
  const DeviceModel& device() const { return *device_; }
  // Programmed conductances (uS) of the physical array with this id (for tests and inspection).
  Eigen::MatrixXf programmed(uint64_t id) const;
  const std::vector<Tile>& tiles() const { return tiles_; }  // empty before program()
  // Hands the programmed tiles to the caller (for a later program_extended()); the layer is then
  // unprogrammed until the next program().
  std::vector<Tile> take_tiles() {
    std::vector<Tile> t;
    t.swap(tiles_);
    return t;
  }
  double time_s() const { return state_.t_s; }
  // Extra age (s) of the cells on each input row / output column, for matrices written
  // incrementally (KV cache): cell (i, j) is read at t_s + in_age[i] + out_age[j]. Empty: none.
  // Takes effect at the next drift_to().
  void set_age_offsets(std::vector<float> in_age_s, std::vector<float> out_age_s) {
    in_age_ = std::move(in_age_s);
    out_age_ = std::move(out_age_s);
  }
  // Stream order of the cells (circuits/physical_array.h) from the next program(): row_major for a
  // matrix that grows by input rows (V of a KV cache), so earlier rows keep their draws.
  void set_cell_order(CellOrder order) { cell_order_ = order; }
  // ADC LSBs of every array bank (tiles x slices, in order); set_adc_lsbs restores calibrated
  // ranges on a re-programmed identical chip (saved models).
  std::vector<double> adc_lsbs() const;
  void set_adc_lsbs(const std::vector<double>& lsbs);
  // The read-noise stream index of the next read: the number of reads since programming, unless
  // set to continue the stream of an earlier programming of the same chip (saved models).
  uint64_t read_index() const { return read_index_; }
  // Counting the cost events of reads (on by default; off only to measure what counting costs).
  void count_events(bool on) { kernel_.count_events(on); }
  void set_read_index(uint64_t n) { read_index_ = n; }

 private:
  void program_with(const Eigen::Ref<const RowMatrixXf>& W, const float* bias, uint64_t chip, std::vector<Tile>* earlier);
  void check_programmed(const char* what) const;
  // Programmed, X has in_features columns, every entry finite (the read kernel relies on it; not
  // checked again when `finite` is false: the caller checked this X).
  void check_input(const Eigen::Ref<const RowMatrixXf>& X, const char* what, bool finite = true) const;
  std::string nonfinite_output(const Eigen::Ref<const RowMatrixXf>& Y) const;
  ReadOutput run(ReadRequest request, const Eigen::Ref<const RowMatrixXf>& X, const ReadState& state);
  ReadTarget target(const ReadState& state) const;  // the programmed layer as a read of `state` sees it
  void calibrate(const Eigen::Ref<const RowMatrixXf>& X, KeptProducts* kept);
  RowMatrixXf read(const Eigen::Ref<const RowMatrixXf>& X, KeptProducts* kept);
  // The drift-compensation reference read at t_s (waits for calibrate() when the ADC range is
  // calibrated).
  void update_compensation();
  RowMatrixXf reference_read(double t_s);
  // A user read's counters and output check: the read of `batch` rows that gave `out`.
  RowMatrixXf finish_read(Eigen::Index batch, ReadOutput&& out);
  void add_events(Eigen::Index batch, const ReadEvents& e);

  XbarConfig cfg_;
  std::unique_ptr<DeviceModel> device_;
  int in_ = 0, out_ = 0;
  uint64_t chip_key_ = 0;
  std::vector<Tile> tiles_;
  ReadState state_;
  std::vector<float> bias_;
  OutlierPath outliers_;
  std::vector<float> in_age_, out_age_;
  CellOrder cell_order_ = CellOrder::column_major;
  DriftCompensator compensation_;
  ReadKernel kernel_;
  uint64_t read_index_ = 0;
  LayerCounters counters_;
};

}  // namespace xbar
