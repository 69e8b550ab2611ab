// Tiles: the blocks of a layer's weight matrix, each on the physical arrays of its slices
// (mapping.h), and their read state at one time after programming.
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <vector>

#include "circuits/adc.h"
#include "circuits/physical_array.h"
#include "common/matrix.h"
#include "engine/config.h"
#include "engine/mapping.h"

namespace xbar {

// One rows x cols block of W^T (crossbar rows are inputs) with its programmed arrays.
struct Tile {
  int r0 = 0, c0 = 0, rows = 0, cols = 0;   // first input row and output column, extent
  std::vector<float> col_scale;             // weight units per unit of normalized cell value
  std::vector<std::vector<PhysicalArray>> arrays;  // [slice][array of the slice]

  int64_t cells() const;  // physical cells of all its arrays
};

// What a write programs: cells, and row-programming steps (arrays write one row at a time, all
// arrays in parallel: the most rows any one array of the write touches).
struct WriteCount {
  int64_t cells = 0;
  int64_t rows = 0;
};

// Read state of one slice of a tile: what a read multiplies by and the noise it adds.
struct SliceRead {
  Eigen::MatrixXf A;      // normalized difference matrix, rows x cols (units of g_max - g_min)
  Eigen::MatrixXf S2;     // read-noise variances of A's cells (empty: no read noise)
  Eigen::VectorXf S2ref;  // offset mapping: variances of the reference column (empty: none)
  double lsb = 0;         // ADC LSB (0: calibrated range not set yet)
  AdcBank adc;            // static errors of the slice's ADC bank
  Eigen::VectorXd g_row_uS;  // per row: sum of the conductances read (M, all arrays of the slice), uS
};

// Read state of every tile at one time.
struct ReadState {
  double t_s = 0;
  std::vector<std::vector<SliceRead>> tiles;  // [tile][slice]
  double solver_residual = 0;   // worst parasitic solver residual
  double ir_drop_severity = 0;  // worst over arrays
  int64_t bytes = 0;            // programmed and read state held

  bool adc_calibrated() const;  // every LSB is set
};

// Maps Wa (out x in, after the outlier split) onto tiles and programs their arrays; `order` picks
// which stream index each cell draws (circuits/physical_array.h).
std::vector<Tile> program_tiles(const Eigen::Ref<const RowMatrixXf>& Wa, const MappingConfig& mc,
                                const DeviceModel& device, uint64_t chip_key,
                                CellOrder order = CellOrder::column_major);

// Programs Wa onto `tiles`, the program_tiles() of a matrix (same chip key and order) that Wa
// extends by output rows (column_major order: the arrays grow by columns) or by input columns
// (row_major: by rows), keeping the cells already programmed and drawing only the new ones: the
// result equals program_tiles(Wa) bit for bit. A kept column whose scale changed (a V token larger
// than the column's earlier ones) is written again, its cells drawn as the full write draws them.
// False, with `tiles` unchanged, when every kept column of a tile changed scale (a full write costs
// less) or with the offset mapping (whose reference column would move). written (optional): the
// cells programmed, new and rewritten, and the most rows one array's write touches (a new or
// rewritten column touches every row of its arrays).
bool grow_tiles(std::vector<Tile>& tiles, const Eigen::Ref<const RowMatrixXf>& Wa, const MappingConfig& mc,
                const DeviceModel& device, uint64_t chip_key, CellOrder order, WriteCount* written = nullptr);

// A fresh write of `tiles`: all their cells, every row of the tallest.
WriteCount full_write(const std::vector<Tile>& tiles);

// Read state at t_s: drifted arrays through the wires, ADC ranges and banks. Calibrated ADC
// ranges are taken from `previous` (empty: not calibrated yet). in_age / out_age: extra age (s)
// per layer input / output (empty: none).
ReadState read_state(const std::vector<Tile>& tiles, double t_s, const std::vector<float>& in_age,
                     const std::vector<float>& out_age, const DeviceModel& device, const XbarConfig& cfg,
                     uint64_t chip_key, const ReadState& previous);

}  // namespace xbar
