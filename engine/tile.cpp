#include "engine/tile.h"

#include <algorithm>

#include "circuits/rng_streams.h"
#include "common/rng.h"
#include "engine/array_id.h"

namespace xbar {

bool ReadState::adc_calibrated() const {
  for (const auto& t : tiles)
    for (const auto& s : t)
      if (s.lsb <= 0) return false;
  return true;
}

int64_t Tile::cells() const {
  int64_t n = 0;
  for (const auto& s : arrays)
    for (const auto& a : s) n += a.cells();
  return n;
}

namespace {
// Tile (r0, c0) of Wa with its column scales (no arrays yet): column j's is the largest |w| of Wa's
// row c0 + j over the tile's inputs, read in place (WeightScale::tile: the largest of them; an
// all-zero column maps to zero conductance at any scale, 1).
Tile scaled_tile(const Eigen::Ref<const RowMatrixXf>& Wa, const MappingConfig& mc, int r0, int c0) {
  Tile t;
  t.r0 = r0;
  t.c0 = c0;
  t.rows = std::min(mc.tile_rows, int(Wa.cols()) - r0);
  t.cols = std::min(mc.tile_cols, int(Wa.rows()) - c0);
  t.col_scale.assign(t.cols, 0.f);
  for (int j = 0; j < t.cols; ++j) t.col_scale[j] = Wa.row(c0 + j).segment(r0, t.rows).cwiseAbs().maxCoeff();
  if (mc.scale == WeightScale::tile) std::fill(t.col_scale.begin(), t.col_scale.end(), *std::max_element(t.col_scale.begin(), t.col_scale.end()));
  for (auto& s : t.col_scale)
    if (s == 0) s = 1;
  return t;
}

// Rows i0 .. i0 + ni - 1 of columns j0 .. j0 + nj - 1 of tile t's block of W^T, in units of the
// column scales (|w| <= 1): only the cells a write maps.
Eigen::MatrixXf scaled_block(const Eigen::Ref<const RowMatrixXf>& Wa, const Tile& t, int i0, int ni, int j0, int nj) {
  Eigen::MatrixXf w(ni, nj);
  for (int j = 0; j < nj; ++j) {  // column j of the block is a run of Wa's row c0 + j0 + j: one pass
    const float* src = Wa.row(t.c0 + j0 + j).data() + (t.r0 + i0);
    const float s = t.col_scale[size_t(j0 + j)];
    float* dst = w.col(j).data();
    for (int i = 0; i < ni; ++i) dst[i] = src[i] / s;
  }
  return w;
}
Eigen::MatrixXf scaled_block(const Eigen::Ref<const RowMatrixXf>& Wa, const Tile& t) {
  return scaled_block(Wa, t, 0, t.rows, 0, t.cols);
}

// Programs the arrays of tile t from its slices' targets; each array's id (tile, slice, index)
// keys its draws.
void program_arrays(Tile& t, const std::vector<std::vector<Eigen::MatrixXf>>& cells, const MappingConfig& mc,
                    const DeviceModel& device, uint64_t chip_key, CellOrder order) {
  t.arrays.resize(cells.size());
  for (size_t s = 0; s < cells.size(); ++s) {
    t.arrays[s].reserve(cells[s].size());
    for (const auto& c : cells[s]) {
      const ArrayId id{t.r0 / mc.tile_rows, t.c0 / mc.tile_cols, int64_t(s), int64_t(t.arrays[s].size())};
      t.arrays[s].emplace_back(id.packed(), c, device, chip_key, order);
    }
  }
}

// Tile origins in program order: output blocks outer, input blocks inner.
template <class F>
void for_each_tile(const Eigen::Ref<const RowMatrixXf>& Wa, const MappingConfig& mc, F f) {
  for (int c0 = 0; c0 < int(Wa.rows()); c0 += mc.tile_cols)
    for (int r0 = 0; r0 < int(Wa.cols()); r0 += mc.tile_rows) f(r0, c0);
}
}  // namespace

std::vector<Tile> program_tiles(const Eigen::Ref<const RowMatrixXf>& Wa, const MappingConfig& mc,
                                const DeviceModel& device, uint64_t chip_key, CellOrder order) {
  const SliceLayout lay = slice_layout(mc);
  std::vector<Tile> tiles;
  for_each_tile(Wa, mc, [&](int r0, int c0) {
    Tile t = scaled_tile(Wa, mc, r0, c0);
    program_arrays(t, map_tile(mc, lay, scaled_block(Wa, t)), mc, device, chip_key, order);
    tiles.push_back(std::move(t));
  });
  return tiles;
}

bool grow_tiles(std::vector<Tile>& tiles, const Eigen::Ref<const RowMatrixXf>& Wa, const MappingConfig& mc,
                const DeviceModel& device, uint64_t chip_key, CellOrder order, WriteCount* written_out) {
  if (mc.mapping == SignedMapping::offset) return false;  // the reference column would move
  const SliceLayout lay = slice_layout(mc);
  const bool cols_grow = order == CellOrder::column_major;
  // First every tile's scales and which kept columns' scales changed: `tiles` is untouched when
  // growing is not possible.
  std::vector<Tile> next;
  std::vector<Tile*> kept;
  std::vector<std::vector<int>> rescaled;  // per tile: kept columns whose scale changed
  bool ok = true;
  for_each_tile(Wa, mc, [&](int r0, int c0) {
    if (!ok) return;
    next.push_back(scaled_tile(Wa, mc, r0, c0));
    const Tile& n = next.back();
    Tile* old = nullptr;
    for (Tile& t : tiles)
      if (t.r0 == r0 && t.c0 == c0) old = &t;
    std::vector<int> changed;
    if (old) {
      ok = cols_grow ? old->rows == n.rows && old->cols <= n.cols : old->cols == n.cols && old->rows <= n.rows;
      // A kept column keeps its cells when its scale stays (their targets are elementwise maps of
      // w / scale); a column whose scale changed is written again. All of them: a full write.
      for (int j = 0; ok && j < old->cols; ++j)
        if (old->col_scale[size_t(j)] != n.col_scale[size_t(j)]) changed.push_back(j);
      ok = ok && int(changed.size()) < old->cols;
    }
    kept.push_back(old);
    rescaled.push_back(std::move(changed));
  });
  if (!ok || size_t(std::count_if(kept.begin(), kept.end(), [](Tile* t) { return t != nullptr; })) != tiles.size())
    return false;
  std::vector<Tile> out;
  WriteCount written;
  for (size_t k = 0; k < next.size(); ++k) {
    Tile& t = next[k];
    if (kept[k]) {
      // Only the new cells are mapped (the mapping is elementwise): new columns or new rows, and
      // the kept rows of the rescaled columns.
      const Tile& old = *kept[k];
      const std::vector<int>& cols = rescaled[k];
      const auto cells = map_tile(mc, lay, cols_grow ? scaled_block(Wa, t, 0, t.rows, old.cols, t.cols - old.cols)
                                                     : scaled_block(Wa, t, old.rows, t.rows - old.rows, 0, t.cols));
      t.arrays = std::move(kept[k]->arrays);
      const int64_t kept_cells = t.cells();
      if (!cols.empty()) {  // before growing: the rewritten cells' exponents are not kept twice
        Eigen::MatrixXf w_re(old.rows, Eigen::Index(cols.size()));
        for (size_t q = 0; q < cols.size(); ++q) w_re.col(Eigen::Index(q)) = scaled_block(Wa, t, 0, old.rows, cols[q], 1);
        const auto cells_re = map_tile(mc, lay, w_re);
        for (size_t s = 0; s < cells_re.size(); ++s)
          for (size_t a = 0; a < cells_re[s].size(); ++a) {
            t.arrays[s][a].rewrite_columns(cells_re[s][a], cols);
            written.cells += int64_t(cells_re[s][a].size());
          }
      }
      for (size_t s = 0; s < cells.size(); ++s)
        for (size_t a = 0; a < cells[s].size(); ++a) t.arrays[s][a].grow(cells[s][a]);
      written.cells += t.cells() - kept_cells;
      // Rows touched: new columns and rewritten columns span every row; new rows only themselves.
      const bool all_rows = !cols.empty() || (cols_grow && t.cols > old.cols);
      written.rows = std::max<int64_t>(written.rows, all_rows ? t.rows : t.rows - old.rows);
    } else {
      program_arrays(t, map_tile(mc, lay, scaled_block(Wa, t)), mc, device, chip_key, order);
      written.cells += t.cells();
      written.rows = std::max<int64_t>(written.rows, t.rows);
    }
    out.push_back(std::move(t));
  }
  tiles = std::move(out);
  if (written_out) *written_out = written;
  return true;
}

WriteCount full_write(const std::vector<Tile>& tiles) {
  WriteCount w;
  for (const Tile& t : tiles) {
    w.cells += t.cells();
    w.rows = std::max<int64_t>(w.rows, t.rows);
  }
  return w;
}

namespace {

// Extra age of the cells of one array of tile t (the offset reference column has none).
CellAges tile_ages(const Tile& t, Eigen::Index phys_cols, const std::vector<float>& in_age,
                   const std::vector<float>& out_age) {
  CellAges a;
  if (!in_age.empty()) a.row_s.assign(in_age.begin() + t.r0, in_age.begin() + t.r0 + t.rows);
  if (!out_age.empty()) {
    a.col_s.assign(size_t(phys_cols), 0.f);
    std::copy(out_age.begin() + t.c0, out_age.begin() + t.c0 + t.cols, a.col_s.begin());
  }
  return a;
}

// Row sums of M in double, each over the columns in order. A column at a time, so the adds
// vectorize down the column (a row at a time strides through column-major storage, one add after
// the other).
Eigen::VectorXd row_sums(const Eigen::MatrixXf& M) {
  if (M.cols() == 0) return Eigen::VectorXd::Zero(M.rows());
  Eigen::VectorXd s = M.col(0).cast<double>();
  for (Eigen::Index j = 1; j < M.cols(); ++j) s += M.col(j).cast<double>();
  return s;
}

// Read state of slice s of tile t; `calibrated_lsb` is its LSB in the previous state (0: none).
SliceRead slice_read(const Tile& t, size_t s, double t_s, const CellAges& ages, const XbarConfig& cfg,
                     const SliceLayout& lay, const DeviceModel& dev, double calibrated_lsb, uint64_t chip_key,
                     ReadState& st) {
  const std::vector<PhysicalArray>& arrays = t.arrays[s];
  const bool offset = cfg.mapping.mapping == SignedMapping::offset;
  const bool read_noise = dev.read_scale > 0;
  std::vector<ArrayReadState> a;
  a.reserve(arrays.size());
  for (const auto& arr : arrays) {
    a.push_back(arr.drift_to(t_s, ages, cfg.wires));
    st.solver_residual = std::max(st.solver_residual, a.back().residual);
    st.ir_drop_severity = std::max(st.ir_drop_severity, a.back().ir_drop_severity);
  }
  SliceRead r;
  // Row sums of what is read: the array energy of a read is t_read sum_i V_i^2 g_row_i.
  r.g_row_uS.setZero(t.rows);
  for (const auto& ar : a) r.g_row_uS += row_sums(ar.M_uS);
  const float inv_dg = float(1.0 / (dev.g_max_uS() - dev.g_min_uS()));
  Eigen::MatrixXf& var = a[0].noise_var;
  bool any_var = false;  // a cell with read noise (a NaN variance counts: it must reach the output check)
  if (offset) {
    r.A = (a[0].M_uS.leftCols(t.cols).colwise() - a[0].M_uS.col(t.cols)) * inv_dg;
    r.S2ref = var.col(t.cols);
    var = var.leftCols(t.cols).eval();
    any_var = !(var.array() <= 0).all() || !(r.S2ref.array() <= 0).all();
  } else {
    // One pass over both arrays' dense storage: the difference, the summed variances, any noise.
    r.A.resize(t.rows, t.cols);
    const float *m0 = a[0].M_uS.data(), *m1 = a[1].M_uS.data(), *v1 = a[1].noise_var.data();
    float *d = r.A.data(), *v = var.data();
    int any = 0;
    for (Eigen::Index k = 0, n = r.A.size(); k < n; ++k) {
      d[k] = (m0[k] - m1[k]) * inv_dg;
      v[k] += v1[k];
      any |= !(v[k] <= 0);
    }
    any_var = any != 0;
  }
  const bool any_noise = read_noise && any_var;
  if (any_noise) r.S2 = std::move(var);
  else r.S2ref.resize(0);
  if (!cfg.adc.ideal()) {
    // The ADC reference is set per tile for the rows in use (a partial tile has a smaller range).
    const double worst = double(t.rows) * lay.max_abs_diff;
    const double unit = cfg.dac.unit() * lay.unit;  // grid of the column signal (0: continuous)
    if (cfg.adc.range == AdcRange::worst_case) r.lsb = adc_lsb(cfg.adc, worst, unit);
    else if (cfg.adc.range == AdcRange::fixed) r.lsb = adc_lsb(cfg.adc, worst * cfg.adc.fixed_fraction, 0.0);
    else r.lsb = calibrated_lsb;  // 0 until calibrate()
    r.adc.draw(cfg.adc, t.cols, make_key(chip_key, stream_id(Stream::adc_bank), arrays[0].id()));
  }
  for (const auto& arr : arrays) st.bytes += arr.bytes();
  st.bytes += int64_t(r.A.size() + r.S2.size() + r.S2ref.size()) * 4;
  return r;
}

}  // namespace

ReadState read_state(const std::vector<Tile>& tiles, double t_s, const std::vector<float>& in_age,
                     const std::vector<float>& out_age, const DeviceModel& device, const XbarConfig& cfg,
                     uint64_t chip_key, const ReadState& previous) {
  const SliceLayout lay = slice_layout(cfg.mapping);
  ReadState st;
  st.t_s = t_s;
  st.tiles.resize(tiles.size());
  for (size_t ti = 0; ti < tiles.size(); ++ti) {
    const Tile& t = tiles[ti];
    const size_t S = t.arrays.size();
    const bool had_lsb = previous.tiles.size() == tiles.size() && previous.tiles[ti].size() == S;
    for (size_t s = 0; s < S; ++s) {
      const CellAges ages = tile_ages(t, t.arrays[s][0].cols(), in_age, out_age);
      st.tiles[ti].push_back(
          slice_read(t, s, t_s, ages, cfg, lay, device, had_lsb ? previous.tiles[ti][s].lsb : 0.0, chip_key, st));
    }
  }
  return st;
}

}  // namespace xbar
