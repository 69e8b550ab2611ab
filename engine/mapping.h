// Mapping stage: weights -> tiles -> normalized cell values per physical array.
// A tile covers tile_rows inputs (word lines) x tile_cols outputs (bit lines). Each tile is scaled
// so max|w| (per tile or per column) maps to the full conductance range, quantized to weight_bits,
// and optionally bit-sliced into S slices of cell_bits each (recombined digitally by shift-add).
// Differential: two arrays per slice (G+ - G-). Offset: one array per slice with one extra
// reference column holding the digits of the zero weight.
#pragma once
#include <Eigen/Dense>
#include <string>
#include <vector>

#include "common/fields.h"

namespace xbar {

// Signed weights: a G+ - G- pair per weight, or one array plus a reference column.
enum class SignedMapping { differential, offset };
template <>
struct EnumNames<SignedMapping> {
  static constexpr EnumName<SignedMapping> table[] = {{SignedMapping::differential, "differential"},
                                                      {SignedMapping::offset, "offset"}};
};

// Where max|w| is taken when scaling weights to the conductance range.
enum class WeightScale { tile, column };
template <>
struct EnumNames<WeightScale> {
  static constexpr EnumName<WeightScale> table[] = {{WeightScale::tile, "tile"}, {WeightScale::column, "column"}};
};

struct MappingConfig {
  int tile_rows = 256;                  // word lines per array (inputs)
  int tile_cols = 256;                  // bit lines per array (outputs)
  SignedMapping mapping = SignedMapping::differential;
  WeightScale scale = WeightScale::tile;
  int weight_bits = 0;                  // signed weight resolution incl. sign (0: continuous)
  int cell_bits = 0;                    // bits per cell for bit slicing (0: one cell per weight)

  static const char* section() { return "mapping"; }
  static const std::vector<Field<MappingConfig>>& fields();
  void validate() const;
};

// What one tile's weights become: per slice the normalized cell values c in [0, 1] of each
// physical array (G = g_min + c (g_max - g_min)), and how to recombine them.
struct SliceLayout {
  int slices = 1;
  int cell_bits = 0;              // 0: continuous cell values
  std::vector<double> weight;     // slice s contributes weight[s] * (c - c_ref) to w / scale
  double max_abs_diff = 1.0;      // max |c - c_ref| over cell values (for the worst-case range)
  double unit = 0.0;              // step of c (1/(2^cell_bits - 1)); 0 when continuous
};

SliceLayout slice_layout(const MappingConfig& cfg);

// Cell values of one tile (w: rows x cols, already divided by its scale, values in [-1, 1]).
// Differential: cells[s] = {plus, minus}; offset: cells[s] = {array with cols+1 columns (last is
// the reference column)}.
std::vector<std::vector<Eigen::MatrixXf>> map_tile(const MappingConfig& cfg, const SliceLayout& lay,
                                                   const Eigen::MatrixXf& w_normalized);

}  // namespace xbar
