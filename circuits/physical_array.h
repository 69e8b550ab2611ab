// One physical crossbar array: its programmed conductances and, at any time after programming,
// the matrix a read multiplies by and the read-noise variance of every cell.
// Programming draws each cell's error and stuck-at fault from the chip's random streams keyed by
// the array id, and drift_to(t) redraws the same drift exponents at every call, so the read state
// is a function of (chip, id, t) alone and never stored twice. An array that grows (a KV-cache
// operand, drifted again at every decode step as its cells age) keeps its cells' drift exponents
// from its first growth instead (4 bytes per cell), and for a device whose read noise factors
// (DeviceModel::read_sigma_factors) each cell's read-noise amplitude (4 more), with the same results; its
// drift then runs in storage order with the time terms taken once per row or column of equal age.
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <vector>

#include "circuits/parasitics.h"
#include "common/rng.h"
#include "devices/device_model.h"

namespace xbar {

// Read state of one array at one time.
struct ArrayReadState {
  Eigen::MatrixXf M_uS;       // read matrix (rows x columns): I_uA = M^T V (crossbar.h)
  Eigen::MatrixXf noise_var;  // read-noise variance per cell, in units of (g_max - g_min)^2, after
                              // the parasitic attenuation of read_noise_scale (0: no read noise)
  double residual = 0;        // parasitic solver residual
  double ir_drop_severity = 0;
};

// Extra age (s) of the cells of each row and column (cells written after programming, e.g. a KV
// cache); cell (i, j) is read at t + row_s[i] + col_s[j]. An empty vector means no extra age.
struct CellAges {
  std::vector<float> row_s, col_s;
};

// Which random-stream index each cell (i, j) of a rows x cols array draws: j rows + i
// (column_major) or i cols + j (row_major). An array that grows by columns (K of a KV cache, one
// column per token) keeps its cells' draws in column-major order, one that grows by rows (V, one
// row per token) in row-major order.
enum class CellOrder { column_major, row_major };

class PhysicalArray {
 public:
  // cells: normalized targets c in [0, 1] (G = g_min + c (g_max - g_min)), rows x columns.
  // The device must outlive the array.
  PhysicalArray(uint64_t id, const Eigen::MatrixXf& cells, const DeviceModel& device, uint64_t chip_key,
                CellOrder order = CellOrder::column_major);

  // Grows the array by `new_cells` (their targets), programming only them: new columns after the
  // last in column_major order (new_cells has the array's rows), new rows below the last in
  // row_major order (the array's columns). Each new cell draws what it would in an array
  // constructed from the grown targets, so the result equals that array's bit for bit.
  // InputError when the block does not fit that way. From the first growth on (a block of none
  // included), the array keeps its cells' drift exponents.
  void grow(const Eigen::MatrixXf& new_cells);

  // Programs again the cells of rows 0 .. cells.rows() - 1 of columns cols[q] to targets
  // cells(i, q) (the rest stay): each cell draws what it would in an array constructed from the new
  // targets, so the result equals that array's bit for bit. A KV cache's V column whose scale grew.
  // InputError when the block does not fit.
  void rewrite_columns(const Eigen::MatrixXf& cells, const std::vector<int>& cols);

  uint64_t id() const { return id_; }
  Eigen::Index rows() const { return rows_; }
  Eigen::Index cols() const { return cols_; }
  int64_t cells() const { return int64_t(rows_) * int64_t(cols_); }
  // The programmed conductances, rows x cols (a copy: for tests and inspection).
  Eigen::MatrixXf programmed_uS() const;
  // Bytes of state held per array: programmed conductances and, once grown, the kept exponents
  // and amplitudes (with a grown array's spare rows).
  int64_t bytes() const { return int64_t(g_prog_.size() + nu_.size() + amp_.size()) * int64_t(sizeof(float)); }
  // Conductances drifted to t_s after programming (stuck cells do not drift) through the wires.
  ArrayReadState drift_to(double t_s, const CellAges& ages, const WireConfig& wires) const;

 private:
  // Programs the cells at stream indices first .. end; `cells` holds their targets from the cell at
  // index first on (the whole array when first = 0, the new block when growing).
  void program_cells(const Eigen::MatrixXf& cells, uint64_t first);
  struct Lanes;    // the stream indices of a chunk of up to 128 cells (8 blocks of 16)
  struct WriteContext;  // the array's streams and the device's constants, taken once per call
  WriteContext write_context() const;
  // Programs the m cells at stream indices `lanes`, storage positions at[0 .. m - 1] to normalized
  // targets c[0 .. m - 1] (the last block's lanes past m repeat its lane 0), keeping their
  // exponents once grown.
  void program_chunk(const Lanes& lanes, int m, const Eigen::Index* at, const float* c, const WriteContext& st);
  // Stores the drift exponents (-1: stuck) of the m cells at stream indices `lanes` (storage
  // positions at[], padded like program_chunk's) given their fault-stream words.
  void keep_exponents(const CounterRng& nu_rng, const Lanes& lanes, int m, const Eigen::Index* at, const uint32_t* fault_word);
  // drift_to's conductances and read-noise variances (dg units, before wires) from the kept cells.
  void drift_kept(double t_s, const CellAges& ages, Eigen::MatrixXf& g, Eigen::MatrixXf& var) const;

  uint64_t id_;
  const DeviceModel* device_;
  uint64_t chip_key_;
  CellOrder order_;
  // Per-cell state in column-major storage with leading dimension ld_ >= rows_: an array that
  // grows by rows (V of a KV cache, a row per token) fills spare rows instead of moving its cells
  // at every token.
  Eigen::Index rows_, cols_, ld_;
  std::vector<float> g_prog_;  // programmed conductances (uS)
  bool keep_nu_ = false;
  std::vector<float> nu_;  // kept drift exponents, -1 for stuck cells (keep_nu_ only)
  bool keep_amp_ = false;
  std::vector<float> amp_;  // kept read-noise amplitudes (keep_amp_ only)
};

}  // namespace xbar
