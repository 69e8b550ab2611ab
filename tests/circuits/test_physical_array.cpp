// One physical array (circuits/physical_array.h) against closed forms of its device: programmed
// targets, power-law drift with per-cell ages, read-noise variances, stuck cells.
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <cmath>
#include <memory>
#include <vector>

#include "circuits/physical_array.h"
#include "circuits/rng_streams.h"
#include "common/rng.h"

using namespace xbar;

namespace {
// Normal device without programming noise: every cell lands on its target, drifts by exactly
// nu = 0.05 and reads with sigma 0.5 uS.
DeviceConfig drift_device() {
  DeviceConfig d;
  d.model = DeviceKind::normal;
  d.g_min_uS = 1.0;
  d.g_max_uS = 21.0;
  d.normal.drift_nu = 0.05;
  d.normal.read_sigma_uS = 0.5;
  d.normal.t0_s = 20.0;
  return d;
}

// PCM with stuck-at-g_min / g_max rates.
std::unique_ptr<DeviceModel> pcm_with_faults(double at_gmin, double at_gmax) {
  DeviceConfig c;
  c.model = DeviceKind::pcm;
  c.stuck_at_gmin_rate = at_gmin;
  c.stuck_at_gmax_rate = at_gmax;
  return make_device(c);
}

Eigen::MatrixXf ramp_cells(int rows, int cols) {
  Eigen::MatrixXf c(rows, cols);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) c(i, j) = float(i * cols + j) / float(rows * cols - 1);
  return c;
}
}  // namespace

TEST_CASE("physical array: programmed targets, drift and read noise follow the device's closed forms") {
  const auto dev = make_device(drift_device());
  const Eigen::MatrixXf cells = ramp_cells(6, 5);
  const PhysicalArray a(7, cells, *dev, 99);
  CHECK(a.id() == 7);
  // Tolerances: float rounding of the stored conductances (relative 1e-6).
  for (int j = 0; j < 5; ++j)
    for (int i = 0; i < 6; ++i) CHECK(a.programmed_uS()(i, j) == doctest::Approx(1.0 + 20.0 * cells(i, j)).epsilon(1e-6));

  SUBCASE("at t = 0 nothing has drifted") {
    const ArrayReadState st = a.drift_to(0, {}, WireConfig{});
    CHECK((st.M_uS.array() == a.programmed_uS().array()).all());
  }
  SUBCASE("drift with per-row and per-column ages") {
    const double t = 1000;
    CellAges ages;
    ages.row_s = {0, 10, 20, 30, 40, 50};
    ages.col_s = {0, 0, 0, 0, 3600};
    const ArrayReadState st = a.drift_to(t, ages, WireConfig{});
    for (int j = 0; j < 5; ++j)
      for (int i = 0; i < 6; ++i) {
        const double tc = t + ages.row_s[i] + ages.col_s[j];
        const double expect = a.programmed_uS()(i, j) * std::pow((tc + 20.0) / 20.0, -0.05);
        CHECK(st.M_uS(i, j) == doctest::Approx(expect).epsilon(1e-6));
        // Read-noise variance in units of (g_max - g_min)^2: (0.5 / 20)^2.
        CHECK(st.noise_var(i, j) == doctest::Approx(0.025 * 0.025).epsilon(1e-6));
      }
    CHECK(st.residual == 0.0);
    CHECK(st.ir_drop_severity == 0.0);
  }
  SUBCASE("the state at t is a function of t alone") {
    const ArrayReadState late = a.drift_to(5000, {}, WireConfig{});
    a.drift_to(10, {}, WireConfig{});
    CHECK((a.drift_to(5000, {}, WireConfig{}).M_uS.array() == late.M_uS.array()).all());
  }
}

TEST_CASE("physical array: stuck cells take their rate and do not drift") {
  DeviceConfig d = drift_device();
  d.stuck_at_gmax_rate = 0.3;
  const auto dev = make_device(d);
  const int n = 64;
  const PhysicalArray a(3, Eigen::MatrixXf::Zero(n, n), *dev, 5);  // targets g_min: stuck ones show
  const ArrayReadState st = a.drift_to(1e6, {}, WireConfig{});
  const Eigen::ArrayXXf g = a.programmed_uS().array();
  const double frac = double((g == 21.0f).count()) / double(n * n);
  // Binomial se sqrt(0.3 * 0.7 / 4096) = 0.0072; tolerance 5 se.
  CHECK(std::abs(frac - 0.3) < 0.036);
  CHECK(((g == 21.0f) == (st.M_uS.array() == 21.0f)).all());  // stuck: unchanged after 1e6 s
  CHECK(((g == 1.0f) == (st.M_uS.array() < 1.0f)).all());     // the others drift below g_min
}

TEST_CASE("physical array: wire resistance attenuates the read matrix and its noise together") {
  const auto dev = make_device(drift_device());
  const PhysicalArray a(0, Eigen::MatrixXf::Constant(32, 32, 1.0f), *dev, 1);
  WireConfig w;
  w.r_row_ohm = w.r_col_ohm = 5.0;
  const ArrayReadState ideal = a.drift_to(0, {}, WireConfig{}), wired = a.drift_to(0, {}, w);
  CHECK(wired.ir_drop_severity > 0.0);
  CHECK(wired.residual < 1e-9);
  // sigma_eff = sigma M / G (parasitics.h): the variance scales by (M / G)^2 cell by cell.
  const Eigen::ArrayXXf ratio = wired.M_uS.array() / ideal.M_uS.array();
  const Eigen::ArrayXXf expect = ideal.noise_var.array() * ratio.square();
  CHECK(((wired.noise_var.array() - expect).abs() <= 1e-6f * expect).all());
}

namespace {
// Standard normal of block k of a stream as the arrays draw it, in double with libm: Box-Muller
// cosine branch on the block's first two words (23-bit radius and 24-bit angle uniforms).
double block_normal(const CounterRng& r, uint64_t k) {
  uint32_t w[4];
  r.block(k, w);
  const double u = (double(w[0] >> 9) + 0.5) / 8388608.0, a = double(w[1] >> 8) * (6.283185307179586 / 16777216.0);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(a);
}
}  // namespace

TEST_CASE("physical array: each cell's programming, fault and drift draws are element j rows + i of its streams") {
  // A second implementation of the draws, cell by cell in double through the device's scalar laws
  // and libm (the array draws 16-cell blocks, a chunk of 8 at a time, and evaluates the laws in float): PCM with
  // programming noise, drift, read noise, with and without stuck cells, in both stream orders,
  // without ages, with column ages (a K operand), row ages (a V operand) and both. 37 x 5 = 185
  // cells, not a multiple of 16: 16-cell blocks inside one column (two in a row in column 0) and
  // across two.
  // Tolerance 1e-5 relative (doctest's Approx, floor 1e-5 uS): float storage (6e-8), float normals
  // (abs 2e-6 times a sigma of ~1 uS) and the float drift factor (nu error ~1e-6 times ln(t / t0) ~ 5).
  const int R = 37, C = 5;
  for (double rate : {0.1, 0.0})
    for (CellOrder order : {CellOrder::column_major, CellOrder::row_major})
      for (int age_kind = 0; age_kind < 4; ++age_kind) {
        const bool row_major = order == CellOrder::row_major;
        CAPTURE(rate);
        CAPTURE(row_major);
        CAPTURE(age_kind);
        const auto dev = pcm_with_faults(rate, rate);
        const Eigen::MatrixXf cells = ramp_cells(R, C);
        const uint64_t id = 12, chip = 4321;
        const PhysicalArray a(id, cells, *dev, chip, order);
        const CounterRng prog(make_key(chip, stream_id(Stream::program)), id),
            fault(make_key(chip, stream_id(Stream::fault)), id), nu(make_key(chip, stream_id(Stream::drift_exponent)), id);
        const double gmin = dev->g_min_uS(), dg = dev->g_max_uS() - dev->g_min_uS(), t = 3600.0;
        CellAges ages;
        if (age_kind == 1 || age_kind == 3)
          for (int j = 0; j < C; ++j) ages.col_s.push_back(50.0f * float(C - j));
        if (age_kind == 2 || age_kind == 3)
          for (int i = 0; i < R; ++i) ages.row_s.push_back(50.0f * float(R - i));
        const ArrayReadState st = a.drift_to(t, ages, WireConfig{});
        int stuck = 0, drifted = 0;
        for (int j = 0; j < C; ++j)
          for (int i = 0; i < R; ++i) {
            const uint64_t k = row_major ? uint64_t(i) * C + uint64_t(j) : uint64_t(j) * R + uint64_t(i);
            const double u = fault.uniform(k);
            double g = dev->program(dev->snap_to_level(gmin + cells(i, j) * dg), block_normal(prog, k), prog.uniform(k));
            if (u < rate) g = gmin;
            else if (u < 2 * rate) g = gmin + dg;
            INFO("cell " << i << "," << j);
            CHECK(a.programmed_uS()(i, j) == doctest::Approx(g).epsilon(1e-5));
            const double gp = a.programmed_uS()(i, j);
            const double tc = t + (ages.row_s.empty() ? 0.0 : ages.row_s[size_t(i)]) +
                              (ages.col_s.empty() ? 0.0 : ages.col_s[size_t(j)]);
            const double gt =
                u < 2 * rate ? gp : gp * std::pow((tc + dev->t0_s()) / dev->t0_s(), -dev->sample_nu(gp, block_normal(nu, k)));
            CHECK(st.M_uS(i, j) == doctest::Approx(gt).epsilon(1e-5));
            const double sr = dev->read_sigma_uS(gp, st.M_uS(i, j), tc) / dg;
            if (st.M_uS(i, j) == 0) {  // stuck at g_min = 0 or programmed to 0: no read noise
              CHECK(st.noise_var(i, j) == 0);
            } else {
              CHECK(st.noise_var(i, j) == doctest::Approx(sr * sr).epsilon(3e-5).scale(0));  // variance: twice sigma's error
              CHECK(sr > 0);
            }
            stuck += u < 2 * rate;
            drifted += gt != gp;
          }
        if (rate > 0) CHECK(stuck > 0);  // both branches are exercised
        CHECK(drifted > 0);
      }
}

TEST_CASE("physical array: a grown array keeps the draws of its cells in its stream order") {
  // Column-major order keeps the cells of existing columns when columns are added (K of a KV
  // cache), row-major those of existing rows when rows are added (V). The same cells, targets and
  // keys must give bit-identical programmed and drifted conductances and noise variances.
  const auto dev = pcm_with_faults(0.05, 0.0);
  const Eigen::MatrixXf big = ramp_cells(9, 7);
  for (CellOrder order : {CellOrder::column_major, CellOrder::row_major}) {
    const bool rows_grow = order == CellOrder::row_major;
    const Eigen::MatrixXf small = rows_grow ? Eigen::MatrixXf(big.topRows(5)) : Eigen::MatrixXf(big.leftCols(4));
    const PhysicalArray a(3, small, *dev, 77, order), b(3, big, *dev, 77, order);
    const ArrayReadState sa = a.drift_to(1e5, {}, WireConfig{}), sb = b.drift_to(1e5, {}, WireConfig{});
    const Eigen::Index r = small.rows(), k = small.cols();
    INFO("row_major " << rows_grow);
    CHECK((a.programmed_uS().array() == b.programmed_uS().topLeftCorner(r, k).array()).all());
    CHECK((sa.M_uS.array() == sb.M_uS.topLeftCorner(r, k).array()).all());
    CHECK((sa.noise_var.array() == sb.noise_var.topLeftCorner(r, k).array()).all());
    // The other order does not keep them: the test can fail.
    const PhysicalArray other(3, big, *dev, 77, rows_grow ? CellOrder::column_major : CellOrder::row_major);
    CHECK_FALSE((a.programmed_uS().array() == other.programmed_uS().topLeftCorner(r, k).array()).all());
  }
  // Row-major cell (i, j) draws index i cols + j: what column-major cell (j, i) of the transpose draws.
  const PhysicalArray rm(5, big, *dev, 8, CellOrder::row_major), cmt(5, big.transpose(), *dev, 8);
  CHECK((rm.programmed_uS().array() == cmt.programmed_uS().transpose().array()).all());
  CHECK((rm.drift_to(3600, {}, WireConfig{}).M_uS.array() == cmt.drift_to(3600, {}, WireConfig{}).M_uS.transpose().array()).all());
}

TEST_CASE("physical array: a grown array's kept drift exponents give the redrawn ones' read states bit for bit") {
  // PCM (exponents depend on each cell's programmed conductance; its read noise factors, so the
  // kept array also keeps amplitudes) and the normal device (its read noise does not factor), both
  // fault kinds; ages per row, per column or both (some cells not yet aged), several times; growth
  // in both orders, by nothing (the array starts keeping) and by new cells (drawn kept), against
  // arrays programmed whole. 11 x 9 cells (one 128-cell chunk) and 23 x 19 (437 cells: the
  // arrays, their growths and the first keeping pass span several chunks, the last one partial).
  DeviceConfig normal = drift_device();
  normal.stuck_at_gmin_rate = 0.04;
  normal.stuck_at_gmax_rate = 0.03;
  const std::unique_ptr<DeviceModel> devices[] = {pcm_with_faults(0.04, 0.03), make_device(normal)};
  for (const auto& [R, C] : {std::pair{11, 9}, std::pair{23, 19}}) {
    const Eigen::MatrixXf big = ramp_cells(R, C);
    CellAges both;
    for (int i = 0; i < R; ++i) both.row_s.push_back(i % 3 == 0 ? -1.0f : 0.3f * float(i));
    for (int j = 0; j < C; ++j) both.col_s.push_back(j % 4 == 1 ? 0.0f : 0.7f * float(j));
    const CellAges rows_only{both.row_s, {}}, cols_only{{}, both.col_s};
    const CellAges* const age_sets[] = {&both, &rows_only, &cols_only};
    for (const auto& dev : devices)
      for (const CellAges* ages : age_sets)
        for (CellOrder order : {CellOrder::column_major, CellOrder::row_major}) {
          const bool rows_grow = order == CellOrder::row_major;
          const Eigen::MatrixXf small = rows_grow ? Eigen::MatrixXf(big.topRows(6)) : Eigen::MatrixXf(big.leftCols(4));
          CellAges small_ages = *ages;
          std::vector<float>& grown = rows_grow ? small_ages.row_s : small_ages.col_s;
          if (!grown.empty()) grown.resize(size_t(rows_grow ? small.rows() : small.cols()));
          const PhysicalArray whole_small(4, small, *dev, 31, order), whole_big(4, big, *dev, 31, order);
          PhysicalArray kept(4, small, *dev, 31, order);
          for (int step = 0; step < 2; ++step) {
            // By nothing, then to the big array.
            const Eigen::MatrixXf block = step == 0 ? (rows_grow ? Eigen::MatrixXf(0, big.cols()) : Eigen::MatrixXf(big.rows(), 0))
                                                    : (rows_grow ? Eigen::MatrixXf(big.bottomRows(big.rows() - small.rows()))
                                                                 : Eigen::MatrixXf(big.rightCols(big.cols() - small.cols())));
            kept.grow(block);
            const PhysicalArray& whole = step == 0 ? whole_small : whole_big;
            const CellAges& a = step == 0 ? small_ages : *ages;
            for (double t : {0.0, 1.0, 3600.0, 3.0e7}) {
              INFO(dev->name() << " " << R << " x " << C << " row ages " << a.row_s.size() << " column ages "
                               << a.col_s.size() << " row_major " << rows_grow << " step " << step << " t " << t);
              const ArrayReadState r = whole.drift_to(t, a, WireConfig{}), k = kept.drift_to(t, a, WireConfig{});
              CHECK((whole.programmed_uS().array() == kept.programmed_uS().array()).all());
              CHECK((r.M_uS.array() == k.M_uS.array()).all());
              CHECK((r.noise_var.array() == k.noise_var.array()).all());
              if (t > 0) CHECK_FALSE((r.M_uS.array() == whole.programmed_uS().array()).all());  // it drifted
              if (t > 0) CHECK(r.noise_var.maxCoeff() > 0);  // and reads with noise
            }
          }
        }
  }
}

TEST_CASE("physical array: grown a row or a column at a time, it equals the array programmed whole at every size") {
  // A decode's pattern: one token per step, 3 -> 13 rows (V; the storage's spare rows fill up and
  // move three times) or columns (K), with a rewritten column on the way; programmed conductances
  // and read states at row or column ages against arrays programmed whole, bit for bit.
  const auto dev = pcm_with_faults(0.04, 0.03);
  const Eigen::MatrixXf big = ramp_cells(13, 13);
  for (CellOrder order : {CellOrder::column_major, CellOrder::row_major}) {
    const bool rows_grow = order == CellOrder::row_major;
    PhysicalArray a(8, rows_grow ? Eigen::MatrixXf(big.topRows(3)) : Eigen::MatrixXf(big.leftCols(3)), *dev, 19, order);
    Eigen::MatrixXf now = rows_grow ? Eigen::MatrixXf(big.topRows(3)) : Eigen::MatrixXf(big.leftCols(3));
    for (int n = 4; n <= 13; ++n) {
      if (rows_grow) {
        Eigen::MatrixXf row = big.block(n - 1, 0, 1, 13);
        if (n > 9) row(0, 1) *= 0.5f;  // the rewritten column's new scale
        a.grow(row);
      } else {
        a.grow(big.block(0, n - 1, 13, 1));
      }
      now = rows_grow ? Eigen::MatrixXf(big.topRows(n)) : Eigen::MatrixXf(big.leftCols(n));
      if (n == 9) {  // column 1 of the kept cells gets new targets
        Eigen::MatrixXf t = now.col(1) * 0.5f;
        a.rewrite_columns(t, {1});
      }
      if (n >= 9) now.col(1) *= 0.5f;
      const PhysicalArray whole(8, now, *dev, 19, order);
      CellAges ages;
      for (int k = 0; k < n; ++k) (rows_grow ? ages.row_s : ages.col_s).push_back(0.1f * float(n - k));
      INFO("row_major " << rows_grow << " size " << n);
      const ArrayReadState x = a.drift_to(50, ages, WireConfig{}), y = whole.drift_to(50, ages, WireConfig{});
      CHECK((a.programmed_uS().array() == whole.programmed_uS().array()).all());
      CHECK((x.M_uS.array() == y.M_uS.array()).all());
      CHECK((x.noise_var.array() == y.noise_var.array()).all());
    }
  }
}

TEST_CASE("physical array: rewritten columns draw what an array programmed with their new targets draws") {
  // Columns 1, 4 and 6 of 9 get new targets, in both stream orders, with both fault kinds, on a fresh
  // array and on a grown one (kept exponents and amplitudes recomputed for the rewritten cells):
  // programmed conductances and read states equal those of the array programmed whole with the
  // new targets, bit for bit; the other columns keep their cells.
  const auto dev = pcm_with_faults(0.04, 0.03);
  // 21 rows: a column spans a full and a partial 16-lane block; 150: a full 128-cell chunk and a
  // partial one ending in a partial block.
  for (const int R : {21, 150}) {
    const Eigen::MatrixXf before = ramp_cells(R, 9);
    const std::vector<int> cols = {1, 4, 6};
    Eigen::MatrixXf after = before;
    Eigen::MatrixXf targets(before.rows(), Eigen::Index(cols.size()));
    for (size_t q = 0; q < cols.size(); ++q) {
      after.col(cols[q]) = (before.col(cols[q]).array() * 0.5f + 0.1f).matrix();
      targets.col(Eigen::Index(q)) = after.col(cols[q]);
    }
    CellAges ages;
    for (int i = 0; i < R; ++i) ages.row_s.push_back(0.2f * float(i));
    for (CellOrder order : {CellOrder::column_major, CellOrder::row_major})
      for (bool grown : {false, true}) {
        INFO("rows " << R << " row_major " << (order == CellOrder::row_major) << " grown " << grown);
        const PhysicalArray whole(6, after, *dev, 41, order), old(6, before, *dev, 41, order);
        PhysicalArray re(6, before, *dev, 41, order);
        if (grown) re.grow(order == CellOrder::row_major ? Eigen::MatrixXf(0, 9) : Eigen::MatrixXf(R, 0));
        re.rewrite_columns(targets, cols);
        CHECK((re.programmed_uS().array() == whole.programmed_uS().array()).all());
        for (double t : {1.0, 3.0e6}) {
          const ArrayReadState a = re.drift_to(t, ages, WireConfig{}), b = whole.drift_to(t, ages, WireConfig{});
          CHECK((a.M_uS.array() == b.M_uS.array()).all());
          CHECK((a.noise_var.array() == b.noise_var.array()).all());
        }
        // Not a full write: the cells of the other columns are the old array's, and the new targets changed cells.
        CHECK((re.programmed_uS().col(0).array() == old.programmed_uS().col(0).array()).all());
        CHECK_FALSE((re.programmed_uS().col(4).array() == old.programmed_uS().col(4).array()).all());
      }
    PhysicalArray a(6, before, *dev, 41);
    CHECK_THROWS_AS(a.rewrite_columns(targets, {1, 9, 2}), InputError);
    CHECK_THROWS_AS(a.rewrite_columns(targets, {1, 2}), InputError);
    CHECK_THROWS_AS(a.rewrite_columns(Eigen::MatrixXf(R + 1, 1), {0}), InputError);
  }
}

TEST_CASE("physical array: its bytes count the kept exponents and amplitudes of a grown array") {
  // 4 bytes per cell programmed; from the first growth 4 more per cell for the drift exponent and,
  // when the read-noise law factors (PCM, not the normal device), 4 more for the amplitude.
  const Eigen::MatrixXf cells = ramp_cells(4, 3);
  const auto pcm = pcm_with_faults(0, 0), normal = make_device(drift_device());
  PhysicalArray p(1, cells, *pcm, 2), n(1, cells, *normal, 2);
  CHECK(p.bytes() == 12 * 4);
  p.grow(Eigen::MatrixXf(4, 0));
  n.grow(Eigen::MatrixXf(4, 0));
  CHECK(p.bytes() == 12 * 12);
  CHECK(n.bytes() == 12 * 8);
  p.grow(ramp_cells(4, 2));
  CHECK(p.bytes() == 20 * 12);
}

TEST_CASE("physical array: an array without cells programs, drifts and grows without dividing by zero") {
  const auto dev = pcm_with_faults(0.0, 0.0);
  for (CellOrder order : {CellOrder::column_major, CellOrder::row_major})
    for (const auto& shape : {std::pair<int, int>{0, 5}, std::pair<int, int>{5, 0}, std::pair<int, int>{0, 0}}) {
      const bool row_major = order == CellOrder::row_major;
      INFO("row_major " << row_major << " shape " << shape.first << " x " << shape.second);
      PhysicalArray a(1, Eigen::MatrixXf::Zero(shape.first, shape.second), *dev, 7, order);
      CHECK(a.cells() == 0);
      const ArrayReadState st = a.drift_to(1.0, CellAges{}, WireConfig{});
      CHECK(st.M_uS.size() == 0);
      CHECK(st.noise_var.size() == 0);
      // Growing along its stream order from nothing gives the cells of an array programmed whole.
      if (row_major && shape.second > 0) {
        a.grow(ramp_cells(3, shape.second));
        const PhysicalArray whole(1, ramp_cells(3, shape.second), *dev, 7, order);
        CHECK(a.programmed_uS() == whole.programmed_uS());
      } else if (!row_major && shape.first > 0) {
        a.grow(ramp_cells(shape.first, 3));
        const PhysicalArray whole(1, ramp_cells(shape.first, 3), *dev, 7, order);
        CHECK(a.programmed_uS() == whole.programmed_uS());
      }
    }
}
