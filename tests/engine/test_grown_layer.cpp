// A layer grown by tokens (AnalogLayer::program_extended, a KV cache's K and V) against the same
// matrix programmed in full: the same cells, read states and outputs, bit for bit.
#include <doctest/doctest.h>

#include <cstring>

#include "common/error.h"
#include "engine/analog_layer.h"

#include "tests/engine/engine_test_support.h"

using namespace xbar;
using xbar::test::random_matrix;
using xbar::test::same_bits;

namespace {
// PCM (programming noise, drift, read noise), stuck cells, 8-bit DAC/ADC with ADC noise, small
// tiles so the matrices span several, two weight slices (four arrays per tile).
XbarConfig grown_config() {
  XbarConfig c;
  c.device.model = DeviceKind::pcm;
  c.device.stuck_at_gmin_rate = 0.02;
  c.dac.bits = 8;
  c.adc.bits = 8;
  c.adc.noise_sigma_lsb = 0.5;
  c.mapping.tile_rows = c.mapping.tile_cols = 8;
  c.mapping.weight_bits = 8;
  c.mapping.cell_bits = 4;
  c.mapping.scale = WeightScale::column;  // per token for K: a new token never rescales the others
  c.run.t_inference_s = 10;
  return c;
}

bool same_cells(const std::vector<Tile>& a, const std::vector<Tile>& b) {
  if (a.size() != b.size()) return false;
  for (size_t t = 0; t < a.size(); ++t) {
    if (a[t].r0 != b[t].r0 || a[t].c0 != b[t].c0 || a[t].rows != b[t].rows || a[t].cols != b[t].cols ||
        a[t].col_scale != b[t].col_scale || a[t].arrays.size() != b[t].arrays.size())
      return false;
    for (size_t s = 0; s < a[t].arrays.size(); ++s)
      for (size_t k = 0; k < a[t].arrays[s].size(); ++k) {
        const Eigen::MatrixXf &ga = a[t].arrays[s][k].programmed_uS(), &gb = b[t].arrays[s][k].programmed_uS();
        if (a[t].arrays[s][k].id() != b[t].arrays[s][k].id() || ga.rows() != gb.rows() || ga.cols() != gb.cols() ||
            std::memcmp(ga.data(), gb.data(), sizeof(float) * ga.size()) != 0)
          return false;
      }
  }
  return true;
}

// The layer of W programmed by tokens: `first` tokens, then all of W through program_extended
// (from `earlier`'s tiles when given, else from its own first programming).
struct Grown {
  AnalogLayer layer;
  Grown(const XbarConfig& c, CellOrder order, const RowMatrixXf& W, const RowMatrixXf& W_first, uint64_t chip,
        const std::vector<Tile>* earlier = nullptr)
      : layer(c) {
    layer.set_cell_order(order);
    layer.program(W_first, nullptr, chip);
    layer.program_extended(W, chip, earlier ? *earlier : layer.tiles());
  }
};

// Ages like a decode step: token k written `T - k` steps ago (along the growing dimension).
void set_token_ages(AnalogLayer& l, CellOrder order, int T) {
  std::vector<float> age(static_cast<size_t>(T));
  for (int k = 0; k < T; ++k) age[size_t(k)] = 0.05f * float(T - k);
  if (order == CellOrder::column_major) l.set_age_offsets({}, age);
  else l.set_age_offsets(age, {});
}
}  // namespace

TEST_CASE("a layer grown by tokens equals the full programming bit for bit, and keeps its earlier cells") {
  const XbarConfig c = grown_config();
  const uint64_t chip = 12;
  // K: W = K (tokens x d), tokens are outputs (array columns, column-major order). V: W = V^T
  // (d x tokens), tokens are inputs (array rows, row-major order). 11 -> 19 tokens: the last kept
  // tile fills up and a new one starts; d = 12 spans a full and a partial tile.
  const int d = 12, T0 = 11, T = 19;
  for (CellOrder order : {CellOrder::column_major, CellOrder::row_major}) {
    const bool k_cache = order == CellOrder::column_major;
    RowMatrixXf W = k_cache ? random_matrix(T, d, 5) : random_matrix(d, T, 5);
    // New V tokens smaller than the tile's earlier ones: no column scale changes.
    if (!k_cache) W.rightCols(T - T0) *= 0.25f;
    const RowMatrixXf W0 = k_cache ? RowMatrixXf(W.topRows(T0)) : RowMatrixXf(W.leftCols(T0));
    const RowMatrixXf X = random_matrix(5, int(W.cols()), 6);
    INFO("k_cache " << k_cache);
    AnalogLayer full(c);
    full.set_cell_order(order);
    full.program(W, nullptr, chip);
    Grown grown(c, order, W, W0, chip);
    CHECK(same_cells(grown.layer.tiles(), full.tiles()));
    // Read states at decode-like token ages, reads with read and ADC noise: bit for bit.
    for (AnalogLayer* l : {&full, &grown.layer}) {
      set_token_ages(*l, order, T);
      l->drift_to(100);
    }
    CHECK(same_bits(grown.layer.read(X), full.read(X)));
    // Only the new tokens' cells are written: 48 per token (12 outputs or inputs, two slices of a
    // differential pair), 8 of the 19 tokens.
    CHECK(full.counters().cells_written == 48 * T);
    CHECK(grown.layer.counters().cells_written == 48 * (T - T0));
    // Rows programmed (rows in series, arrays in parallel): a full write, every row of an 8-row
    // tile. K's new tokens are columns, which span all 8 rows of their arrays; V's are rows: 5 new
    // rows fill the kept 3-row tile, 3 start a new one, so the most any array writes is 5.
    CHECK(full.counters().rows_written == 8);
    CHECK(grown.layer.counters().rows_written == (k_cache ? 8 : 5));
    // Growing within the kept tiles (11 -> 14 tokens, no new tile): K's 3 new columns still span
    // all 8 rows, V's 3 new rows are 3.
    const RowMatrixXf W14 = k_cache ? RowMatrixXf(W.topRows(14)) : RowMatrixXf(W.leftCols(14));
    Grown within(c, order, W14, W0, chip);
    CHECK(within.layer.counters().rows_written == (k_cache ? 8 : 3));
    CHECK(within.layer.counters().cells_written == 48 * 3);
    // The earlier cells are kept, not redrawn: grown from another chip's tiles, they differ.
    AnalogLayer other(c);
    other.set_cell_order(order);
    other.program(W0, nullptr, chip + 1);
    Grown mixed(c, order, W, W0, chip, &other.tiles());
    CHECK_FALSE(same_cells(mixed.layer.tiles(), full.tiles()));
  }
}

TEST_CASE("a grown V whose new token rescales some columns writes those columns again, the rest kept") {
  // d = 12 outputs (array columns) over two column tiles, 6 -> 9 tokens (inputs, array rows): the
  // new tokens exceed the earlier ones in outputs 2, 7 and 9 only, so those columns' scales grow.
  const XbarConfig c = grown_config();
  const uint64_t chip = 5;
  const int d = 12, T0 = 6, T = 9;
  RowMatrixXf W = random_matrix(d, T, 21);
  W.rightCols(T - T0) *= 0.25f;
  for (int j : {2, 7, 9}) W(j, T - 2) = 3.f;
  const RowMatrixXf W0 = W.leftCols(T0), X = random_matrix(4, T, 22);
  AnalogLayer full(c), other(c);
  full.set_cell_order(CellOrder::row_major);
  full.program(W, nullptr, chip);
  Grown grown(c, CellOrder::row_major, W, W0, chip);
  CHECK(same_cells(grown.layer.tiles(), full.tiles()));
  for (AnalogLayer* l : {&full, &grown.layer}) {
    set_token_ages(*l, CellOrder::row_major, T);
    l->drift_to(100);
  }
  CHECK(same_bits(grown.layer.read(X), full.read(X)));
  // Written: the new tokens' cells (4 per output and token) and the 6 kept tokens of the 3 columns.
  CHECK(grown.layer.counters().cells_written == 4 * d * (T - T0) + 4 * 3 * T0);
  // The rewritten columns span the kept tile's rows: all 8 of it, not the 2 new ones (3 tokens:
  // 2 fill the first row tile, 1 starts a new one).
  CHECK(grown.layer.counters().rows_written == 8);
  // Kept columns are not drawn again: grown from tiles whose output 0 held another value in its
  // smallest (not scale-setting) kept weight, column 0 keeps those cells and differs from the full
  // write, while the rescaled column 2 equals it.
  RowMatrixXf W0p = W0;
  Eigen::Index small = 0;
  W0p.row(0).cwiseAbs().minCoeff(&small);
  W0p(0, small) *= 0.5f;
  other.set_cell_order(CellOrder::row_major);
  other.program(W0p, nullptr, chip);
  Grown mixed(c, CellOrder::row_major, W, W0, chip, &other.tiles());
  const Eigen::MatrixXf &m = mixed.layer.tiles()[0].arrays[0][0].programmed_uS(), &f = full.tiles()[0].arrays[0][0].programmed_uS(),
                        &o = other.tiles()[0].arrays[0][0].programmed_uS();
  CHECK((m.col(2).array() == f.col(2).array()).all());
  CHECK((m.col(0).head(T0).array() == o.col(0).array()).all());
  CHECK_FALSE(same_cells(mixed.layer.tiles(), full.tiles()));
}

TEST_CASE("a grown layer whose column scale changes is programmed in full") {
  // V with a new token larger than every earlier one in its tile: each column's scale grows, so
  // every kept cell's target changes and all cells are drawn again (even from another chip's tiles).
  const XbarConfig c = grown_config();
  const uint64_t chip = 3;
  const int d = 12, T0 = 5, T = 6;
  RowMatrixXf W = random_matrix(d, T, 9);
  W.col(T - 1) *= 4.f;
  const RowMatrixXf W0 = W.leftCols(T0), X = random_matrix(4, T, 10);
  AnalogLayer full(c), other(c);
  full.set_cell_order(CellOrder::row_major);
  full.program(W, nullptr, chip);
  other.set_cell_order(CellOrder::row_major);
  other.program(W0, nullptr, chip + 1);
  Grown grown(c, CellOrder::row_major, W, W0, chip, &other.tiles());
  CHECK(same_cells(grown.layer.tiles(), full.tiles()));
  CHECK(same_bits(grown.layer.read(X), full.read(X)));
  // The offset mapping cannot grow in place (its reference column moves): programmed in full too.
  XbarConfig co = c;
  co.mapping.mapping = SignedMapping::offset;
  const RowMatrixXf K = random_matrix(T, d, 11), K0 = K.topRows(T0);
  AnalogLayer full_o(co), other_o(co);
  full_o.program(K, nullptr, chip);
  other_o.program(K0, nullptr, chip + 1);
  Grown grown_o(co, CellOrder::column_major, K, K0, chip, &other_o.tiles());
  CHECK(same_cells(grown_o.layer.tiles(), full_o.tiles()));
}

TEST_CASE("a physical array grows only along its stream order") {
  DeviceConfig dc;
  dc.model = DeviceKind::pcm;
  const auto dev = make_device(dc);
  const Eigen::MatrixXf cells = Eigen::MatrixXf::Constant(4, 3, 0.5f);
  PhysicalArray col(1, cells, *dev, 2, CellOrder::column_major), row(1, cells, *dev, 2, CellOrder::row_major);
  // Blocks of new cells: columns with the array's 4 rows, rows with its 3 columns.
  CHECK_THROWS_AS(col.grow(Eigen::MatrixXf::Constant(5, 1, 0.5f)), InputError);
  CHECK_THROWS_AS(row.grow(Eigen::MatrixXf::Constant(1, 4, 0.5f)), InputError);
  CHECK_THROWS_AS(col.grow(Eigen::MatrixXf::Constant(1, 3, 0.5f)), InputError);
  col.grow(Eigen::MatrixXf::Constant(4, 2, 0.5f));
  row.grow(Eigen::MatrixXf::Constant(1, 3, 0.5f));
  CHECK(col.programmed_uS().cols() == 5);
  CHECK(row.programmed_uS().rows() == 5);
}
