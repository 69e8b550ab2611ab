#include "circuits/physical_array.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "circuits/crossbar.h"
#include "circuits/rng_streams.h"
#include "common/error.h"
#include "common/fast_math.h"
#include "common/normal_fill.h"
#include "common/rng.h"

namespace xbar {

namespace {
// Cell (i, j) of a rows x cols array draws index j * rows + i (CellOrder::column_major) or i * cols + j
// (row_major) of each stream. 16 cells draw one vectorized batch of Philox blocks (consecutive
// indices: CounterRng::lanes16; listed ones: lanes16_at), each block drawn once, and the device
// laws run on the cells in float (DeviceModel::program_n, sample_nu_n, read_sigma_n). A whole
// array is walked in storage order (column-major), a row-major one listing its cells' indices.
constexpr int kLanes = 16;
// Cells are taken a chunk of 8 blocks at a time and each step (Philox, Box-Muller, a device law)
// runs over the whole chunk before the next: the blocks' independent chains then overlap in the
// core, where one block's long chain of dependent steps would run alone. A cell's value does not
// depend on the chunking (every step is per cell).
constexpr int kBlocks = 8, kChunk = kBlocks * kLanes;

// Stream index of cell (i, j) in row-major order.
uint64_t row_major_index(Eigen::Index i, Eigen::Index j, Eigen::Index cols) {
  return uint64_t(i) * uint64_t(cols) + uint64_t(j);
}

// The m cells at column-major storage positions k0, k0 + 1, ... of an array of `rows` rows without
// spare ones, a column's run at a time: run(l, i, j, n) for cells l .. l + n - 1 of the chunk, which
// are (i, j) .. (i + n - 1, j). (A cell-by-cell walk cost a third of a small array's programming.)
template <class F>
void storage_runs(uint64_t k0, int m, Eigen::Index rows, F run) {
  Eigen::Index i = Eigen::Index(k0 % uint64_t(rows)), j = Eigen::Index(k0 / uint64_t(rows));
  for (int l = 0; l < m; ++j, i = 0) {
    const int n = int(std::min<Eigen::Index>(m - l, rows - i));
    run(l, i, j, n);
    l += n;
  }
}

// Row-major stream indices of those cells into idx.
void row_major_indices(uint64_t k0, int m, Eigen::Index rows, Eigen::Index cols, uint64_t* idx) {
  storage_runs(k0, m, rows, [&](int l, Eigen::Index i, Eigen::Index j, int n) {
    for (int r = 0; r < n; ++r) idx[l + r] = row_major_index(i + r, j, cols);
  });
}

// Visits the cells row by row (row_major) or column by column: row, column and storage
// (column-major) index of each. Column by column with ld = rows is the storage order.
struct CellWalk {
  Eigen::Index rows, cols, ld;  // ld: the storage's leading dimension (>= rows)
  bool row_major;
  Eigen::Index i = 0, j = 0;
  Eigen::Index storage() const { return j * ld + i; }
  void next() {
    if (row_major) {
      if (++j == cols) j = 0, ++i;
    } else if (++i == rows) {
      i = 0, ++j;
    }
  }
  // The next min(kChunk, n - k0) cells of the n from the k0-th of the walk (its position): calls
  // cell(l, *this) for each and returns their count m.
  template <class F>
  int take(uint64_t k0, uint64_t n, F cell) {
    const int m = int(std::min<uint64_t>(kChunk, n - k0));
    for (int l = 0; l < m; ++l, next()) cell(l, *this);
    return m;
  }
};

// Blocks holding m > 0 cells.
int blocks_of(int m) { return (m + kLanes - 1) / kLanes; }

// Lanes m .. of the last block of each array repeat that block's lane 0 (a partial last block
// computes on valid values); returns the block count.
template <class... T>
int pad_lanes(int m, T*... lanes) {
  const int nb = blocks_of(m), first = (nb - 1) * kLanes;
  for (int l = m; l < nb * kLanes; ++l) ((lanes[l] = lanes[first]), ...);
  return nb;
}

// Whether storage positions at[0 .. m - 1] are at[0], at[0] + 1, ...
// (An OR of differences vectorizes; a chain of boolean ANDs does not.)
bool consecutive(int m, const Eigen::Index* at) {
  Eigen::Index d = 0;
  for (int l = 1; l < m; ++l) d |= at[l] ^ (at[0] + l);
  return d == 0;
}

// Stream s of array `id` on the chip.
CounterRng array_stream(uint64_t chip_key, Stream s, uint64_t id) { return CounterRng(make_key(chip_key, stream_id(s)), id); }

// Word 2 of the fault-stream blocks of nb blocks of lanes (a uniform per cell: stuck or not).
template <class L>
void fault_words(const CounterRng& fault, const L& lanes, int nb, uint32_t* fw) {
  for (int b = 0; b < nb; ++b) {
    uint32_t w[4][kLanes];
    lanes.draw(fault, b, w);
    std::copy_n(w[2], kLanes, fw + kLanes * b);
  }
}

// Drift exponents of the cells of nb blocks of lanes from their drift-exponent stream and
// programmed conductances gp, -1 for the cells their fault-stream words mark stuck (device
// exponents are >= 0 or NaN); fault_word null: the device has no stuck cells.
template <class L>
void drift_exponents(const CounterRng& nu_rng, const L& lanes, int nb, const DeviceModel& dev, const float* gp,
                     const uint32_t* fault_word, float* nu) {
  float z[kChunk];
  for (int b = 0; b < nb; ++b) {
    uint32_t w[4][kLanes];
    lanes.draw(nu_rng, b, w);
    normal_cos16(w[0], w[1], z + kLanes * b);
  }
  const int n = nb * kLanes;
  dev.sample_nu_n(n, gp, z, nu);
  if (!fault_word) return;
  const double rate_stuck = dev.stuck_at_gmin_rate() + dev.stuck_at_gmax_rate();
  for (int l = 0; l < n; ++l) nu[l] = CounterRng::unit(fault_word[l]) < rate_stuck ? -1.0f : nu[l];
}
// Whether any cell can be stuck: without, the fault stream is not drawn (a uniform in (0, 1) is
// never below a rate of 0, so the draw could not change a cell).
bool has_faults(const DeviceModel& dev) { return dev.stuck_at_gmin_rate() + dev.stuck_at_gmax_rate() > 0; }

// Read time of cell (i, j): t plus its row's and column's extra ages.
float cell_time(double t_s, const CellAges& ages, Eigen::Index i, Eigen::Index j) {
  return float(t_s + (ages.row_s.empty() ? 0.0 : ages.row_s[size_t(i)]) + (ages.col_s.empty() ? 0.0 : ages.col_s[size_t(j)]));
}

// Whether the device has read noise that factors as |g_now| amp(g_prog) time(t).
bool read_noise_factors(const DeviceModel& dev) { return dev.read_scale > 0 && dev.read_sigma_factors(); }

// Time terms of n cells read at times tc[k] = t_of(k): the drift log-age ln(tc / t0 + 1) (unused
// where tc <= 0) and, for a factoring read-noise law, the 1/f factor. Cells of equal age share
// them: a row or column of an array takes them once, not once per cell.
struct TimeTerms {
  std::vector<float> tc, lt, tf;
};
template <class F>
TimeTerms time_terms(const DeviceModel& dev, bool factored, Eigen::Index n, F t_of) {
  const float inv_t0 = float(1.0 / dev.t0_s());
  TimeTerms x{std::vector<float>(size_t(n)), std::vector<float>(size_t(n)), std::vector<float>(size_t(n))};
  for (Eigen::Index k = 0; k < n; ++k) {
    x.tc[size_t(k)] = t_of(k);
    x.lt[size_t(k)] = fastm::log_pos(x.tc[size_t(k)] * inv_t0 + 1.0f);
  }
  if (factored) dev.read_time_factors_n(int(n), x.tc.data(), x.tf.data());
  return x;
}

// The time terms of a chunk's m cells from storage position k0 of an array of `rows` rows without
// spare ones, given per line (`line` holds the rows' terms when per_row, else the columns'): the
// rows' copied down each storage column's run, or the column's repeated; tf only when factored.
void line_terms(const TimeTerms& line, bool per_row, bool factored, uint64_t k0, int m, Eigen::Index rows, float* tc,
                float* lt, float* tf) {
  storage_runs(k0, m, rows, [&](int l, Eigen::Index i, Eigen::Index j, int n) {
    if (per_row) {
      std::copy_n(line.tc.data() + i, n, tc + l);
      std::copy_n(line.lt.data() + i, n, lt + l);
      if (factored) std::copy_n(line.tf.data() + i, n, tf + l);
    } else {
      std::fill_n(tc + l, n, line.tc[size_t(j)]);
      std::fill_n(lt + l, n, line.lt[size_t(j)]);
      if (factored) std::fill_n(tf + l, n, line.tf[size_t(j)]);
    }
  });
}

// The drifted conductance of a cell programmed to gp with exponent nu (-1: stuck) and log-age lt
// at read time tc: G(t) = G_prog ((t + t0) / t0)^-nu; stuck cells and cells not yet aged do not
// drift (a NaN exponent drifts: it must reach the layer's non-finite check).
inline float drifted(float gp, float nu, float tc, float lt) {
  const bool drifts = tc > 0 && !(nu < 0);
  return gp * fastm::exp_f(drifts ? -nu * lt : 0.0f);
}

// n cells with kept exponents and read-noise amplitudes (a column, or a run of dense storage), in
// one pass: drifted conductances gt and read-noise variances v (dg units). Cell i's time terms are
// tc[i], lt[i], tf[i] (PerRow: its own) or tc[0], lt[0], tf[0] (one for all).
template <bool PerRow>
void drift_amp_column(Eigen::Index n, const float* gp, const float* nu, const float* amp, const float* tc,
                      const float* lt, const float* tf, float read_scale, float dg, float* __restrict gt,
                      float* __restrict v) {
  // The outputs alias no input (restrict): without it the loop's alias checks exceed GCC's limit
  // and it stays scalar.
  const float tc0 = tc[0], lt0 = lt[0], tf0 = tf[0];
  for (Eigen::Index i = 0; i < n; ++i) {
    const float g = drifted(gp[i], nu[i], PerRow ? tc[i] : tc0, PerRow ? lt[i] : lt0);
    const float sd = read_scale * (std::abs(g) * amp[i] * (PerRow ? tf[i] : tf0)) / dg;
    gt[i] = g;
    v[i] = sd * sd;
  }
}

// The read state of conductances g (noise variances in st) through the wires.
ArrayReadState through_wires(Eigen::MatrixXf g, ArrayReadState st, const WireConfig& wires, bool read_noise) {
  if (wires.ideal()) {  // the read matrix is the conductances themselves
    st.M_uS = std::move(g);
    return st;
  }
  SolveStats solve;
  st.M_uS = array_read_matrix(g, wires, &solve);
  st.residual = solve.residual;
  // Both functions are ratios of conductances, so microsiemens serve as well as siemens.
  const Eigen::MatrixXd gd = g.cast<double>(), md = st.M_uS.cast<double>();
  st.ir_drop_severity = ir_drop_severity(gd, md);
  if (read_noise) st.noise_var.array() *= read_noise_scale(gd, md).array().square().cast<float>();
  return st;
}
}  // namespace

// The stream indices of a chunk's cells: consecutive from k0, or listed in idx (not null).
struct PhysicalArray::Lanes {
  uint64_t k0 = 0;
  const uint64_t* idx = nullptr;
  // The blocks of the chunk's block b.
  void draw(const CounterRng& r, int b, uint32_t w[4][kLanes]) const {
    if (idx) r.lanes16_at(idx + kLanes * b, w);
    else r.lanes16(k0 + uint64_t(kLanes * b), w);
  }
};

// What writing cells takes, once per call: the array's programming, fault and drift-exponent
// streams and the device's constants.
struct PhysicalArray::WriteContext {
  CounterRng prog, fault, nu;
  bool faults;  // the device has stuck cells
  float gmin, dg;
  double rate_min, rate_max;
  bool levels;  // the device snaps targets to levels
};

PhysicalArray::WriteContext PhysicalArray::write_context() const {
  const DeviceModel& dev = *device_;
  return {array_stream(chip_key_, Stream::program, id_),
          array_stream(chip_key_, Stream::fault, id_),
          array_stream(chip_key_, Stream::drift_exponent, id_),
          has_faults(dev),
          float(dev.g_min_uS()),
          float(dev.g_max_uS() - dev.g_min_uS()),
          dev.stuck_at_gmin_rate(),
          dev.stuck_at_gmax_rate(),
          !dev.levels_uS().empty()};
}

Eigen::MatrixXf PhysicalArray::programmed_uS() const {
  return Eigen::Map<const Eigen::MatrixXf, 0, Eigen::OuterStride<>>(g_prog_.data(), rows_, cols_, Eigen::OuterStride<>(ld_));
}

PhysicalArray::PhysicalArray(uint64_t id, const Eigen::MatrixXf& cells, const DeviceModel& dev, uint64_t chip_key,
                             CellOrder order)
    : id_(id), device_(&dev), chip_key_(chip_key), order_(order), rows_(cells.rows()), cols_(cells.cols()),
      ld_(cells.rows()), g_prog_(size_t(cells.size())) {
  program_cells(cells, 0);
}

void PhysicalArray::grow(const Eigen::MatrixXf& new_cells) {
  const Eigen::Index rows = rows_, cols = cols_;
  const bool row_major = order_ == CellOrder::row_major;
  if (row_major ? new_cells.cols() != cols : new_cells.rows() != rows)
    throw InputError("PhysicalArray::grow: a " + std::to_string(rows) + " x " + std::to_string(cols) +
                     " array cannot grow by a " + std::to_string(new_cells.rows()) + " x " +
                     std::to_string(new_cells.cols()) + " block of " + (row_major ? "rows" : "columns"));
  if (!keep_nu_) {  // first growth: keep the existing cells' exponents (and amplitudes) from now on
    nu_.resize(g_prog_.size());
    keep_amp_ = read_noise_factors(*device_);
    if (keep_amp_) amp_.resize(g_prog_.size());
    const WriteContext st = write_context();
    const uint64_t n = uint64_t(rows) * uint64_t(cols);
    uint32_t fw[kChunk];
    Eigen::Index at[kChunk];
    CellWalk walk{rows, cols, ld_, row_major};
    for (uint64_t k0 = 0; k0 < n; k0 += kChunk) {
      const int m = walk.take(k0, n, [&](int l, const CellWalk& w) { at[l] = w.storage(); });
      const int nb = pad_lanes(m, at);
      if (st.faults) fault_words(st.fault, Lanes{k0}, nb, fw);
      keep_exponents(st.nu, Lanes{k0}, m, at, st.faults ? fw : nullptr);
    }
    keep_nu_ = true;
  }
  // Column-major storage with spare rows: new columns append to it (amortized by the vectors), new
  // rows fill the spare rows; only when none are left are the cells moved, to twice the rows.
  const Eigen::Index R = row_major ? rows + new_cells.rows() : rows, C = row_major ? cols : cols + new_cells.cols();
  if (R > ld_) {
    const Eigen::Index ld = std::max(R, 2 * ld_);
    for (std::vector<float>* v : {&g_prog_, &nu_, &amp_}) {
      if (v->empty()) continue;  // amplitudes not kept
      std::vector<float> w(size_t(ld * cols));
      for (Eigen::Index j = 0; j < cols; ++j) std::copy_n(v->data() + j * ld_, rows, w.data() + j * ld);
      v->swap(w);
    }
    ld_ = ld;
  }
  g_prog_.resize(size_t(ld_ * C));
  nu_.resize(size_t(ld_ * C));
  if (keep_amp_) amp_.resize(size_t(ld_ * C));
  rows_ = R;
  cols_ = C;
  program_cells(new_cells, uint64_t(rows) * uint64_t(cols));
}

void PhysicalArray::keep_exponents(const CounterRng& nu_rng, const Lanes& lanes, int m, const Eigen::Index* at,
                                   const uint32_t* fault_word) {
  const int nb = blocks_of(m), n = nb * kLanes;
  float gp[kChunk], nu[kChunk];
  for (int l = 0; l < n; ++l) gp[l] = g_prog_.data()[at[l]];
  drift_exponents(nu_rng, lanes, nb, *device_, gp, fault_word, nu);
  for (int l = 0; l < m; ++l) nu_.data()[at[l]] = nu[l];
  if (!keep_amp_) return;
  float amp[kChunk];
  device_->read_amp_n(n, gp, amp);
  for (int l = 0; l < m; ++l) amp_.data()[at[l]] = amp[l];
}

void PhysicalArray::program_cells(const Eigen::MatrixXf& cells, uint64_t first) {
  if (rows_ == 0 || cols_ == 0) return;  // no cells (and no stream position to divide out)
  const WriteContext st = write_context();
  const uint64_t n = uint64_t(rows_) * uint64_t(cols_);
  float c[kChunk];
  Eigen::Index at[kChunk];
  // Stream index k is cell (k / cols, k % cols) in row-major order, (k % rows, k / rows) in column-major.
  const bool row_major = order_ == CellOrder::row_major;
  const Eigen::Index R = rows_, C = cols_, k = Eigen::Index(first);
  CellWalk walk{R, C, ld_, row_major, row_major ? k / C : k % R, row_major ? k % C : k / R};
  // `cells` is the block from the first new cell on: its cell (i - i0, j - j0) is the array's (i, j).
  const Eigen::Index i0 = walk.i, j0 = walk.j, ld = cells.rows();
  if (ld_ == R && ld == R && (row_major ? first == 0 : i0 == 0)) {
    // Storage order without spare rows, from a column's start (the whole array when row-major):
    // targets and conductances move in consecutive runs. Column-major, stream index k is storage
    // k; a row-major array lists its cells' stream indices.
    uint64_t idx[kChunk];
    for (uint64_t k0 = first; k0 < n; k0 += kChunk) {
      const int m = int(std::min<uint64_t>(kChunk, n - k0));
      for (int l = 0; l < m; ++l) at[l] = Eigen::Index(k0) + l;
      std::copy_n(cells.data() + (k0 - first), m, c);
      pad_lanes(m, at, c);
      if (row_major) {
        row_major_indices(k0, m, R, C, idx);
        pad_lanes(m, idx);
      }
      program_chunk(row_major ? Lanes{0, idx} : Lanes{k0}, m, at, c, st);
    }
    return;
  }
  for (uint64_t k0 = first; k0 < n; k0 += kChunk) {
    const int m = walk.take(k0, n, [&](int l, const CellWalk& w) {
      at[l] = w.storage();
      c[l] = cells.data()[(w.j - j0) * ld + (w.i - i0)];
    });
    pad_lanes(m, at, c);
    program_chunk(Lanes{k0}, m, at, c, st);
  }
}

void PhysicalArray::rewrite_columns(const Eigen::MatrixXf& cells, const std::vector<int>& cols) {
  const Eigen::Index R = rows_, C = cols_, r = cells.rows();
  if (cells.cols() != Eigen::Index(cols.size()) || r > R)
    throw InputError("PhysicalArray::rewrite_columns: " + std::to_string(r) + " x " + std::to_string(cells.cols()) +
                     " targets for " + std::to_string(cols.size()) + " columns of a " + std::to_string(R) + " x " +
                     std::to_string(C) + " array");
  const WriteContext st = write_context();
  const bool row_major = order_ == CellOrder::row_major;
  uint64_t idx[kChunk];
  Eigen::Index at[kChunk];
  float c[kChunk];
  for (size_t q = 0; q < cols.size(); ++q) {
    const Eigen::Index j = cols[q];
    if (j < 0 || j >= C)
      throw InputError("PhysicalArray::rewrite_columns: column " + std::to_string(j) + " of a " + std::to_string(R) +
                       " x " + std::to_string(C) + " array");
    for (Eigen::Index i0 = 0; i0 < r; i0 += kChunk) {
      const int m = int(std::min<Eigen::Index>(kChunk, r - i0));
      for (int l = 0; l < m; ++l) {
        const Eigen::Index i = i0 + l;
        idx[l] = row_major ? row_major_index(i, j, C) : uint64_t(j * R + i);
        at[l] = j * ld_ + i;
        c[l] = cells(i, Eigen::Index(q));
      }
      pad_lanes(m, idx, at, c);
      program_chunk(Lanes{0, idx}, m, at, c, st);
    }
  }
}

void PhysicalArray::program_chunk(const Lanes& lanes, int m, const Eigen::Index* at, const float* c,
                                  const WriteContext& st) {
  const DeviceModel& dev = *device_;
  const float gmin = st.gmin, dg = st.dg;
  const double rate_min = st.rate_min, rate_max = st.rate_max;
  const int nb = blocks_of(m), n = nb * kLanes;
  uint32_t fw[kChunk];
  float target[kChunk], z[kChunk], u[kChunk], g[kChunk];
  for (int b = 0; b < nb; ++b) {
    uint32_t pw[4][kLanes];
    lanes.draw(st.prog, b, pw);
    normal_cos16(pw[0], pw[1], z + kLanes * b);
    for (int l = 0; l < kLanes; ++l) u[kLanes * b + l] = fastm::unit_f(pw[2][l]);
  }
  if (st.faults) fault_words(st.fault, lanes, nb, fw);
  for (int l = 0; l < n; ++l) target[l] = gmin + c[l] * dg;
  if (st.levels)
    for (int l = 0; l < n; ++l) target[l] = float(dev.snap_to_level(target[l]));
  dev.program_n(n, target, z, u, g);
  float* g_out = g_prog_.data();
  if (st.faults) {
    for (int l = 0; l < m; ++l) {
      const double uf = CounterRng::unit(fw[l]);
      g_out[at[l]] = uf < rate_min ? gmin : (uf < rate_min + rate_max ? gmin + dg : g[l]);
    }
  } else if (consecutive(m, at)) {  // a walk in storage order: one block copy
    std::copy_n(g, m, g_out + at[0]);
  } else {
    for (int l = 0; l < m; ++l) g_out[at[l]] = g[l];
  }
  if (keep_nu_) keep_exponents(st.nu, lanes, m, at, st.faults ? fw : nullptr);
}

ArrayReadState PhysicalArray::drift_to(double t_s, const CellAges& ages, const WireConfig& wires) const {
  const DeviceModel& dev = *device_;
  const float dg = float(dev.g_max_uS() - dev.g_min_uS());
  const bool read_noise = dev.read_scale > 0;
  const float read_scale = float(dev.read_scale);
  const Eigen::Index rows = rows_, cols = cols_;
  Eigen::MatrixXf g(rows, cols);
  ArrayReadState st;
  st.noise_var.resize(rows, cols);
  if (keep_nu_) {
    drift_kept(t_s, ages, g, st.noise_var);
    return through_wires(std::move(g), std::move(st), wires, read_noise);
  }
  const CounterRng fault = array_stream(chip_key_, Stream::fault, id_),
                   nu_rng = array_stream(chip_key_, Stream::drift_exponent, id_);
  // Time terms per column (no row ages) or per row (row ages only); per cell with both.
  const bool per_row = !ages.row_s.empty(), per_col = !ages.col_s.empty(), by_line = !(per_row && per_col);
  const bool factored = by_line && read_noise_factors(dev);
  const TimeTerms line = !by_line ? TimeTerms{}
                         : per_row ? time_terms(dev, factored, rows, [&](Eigen::Index i) { return cell_time(t_s, ages, i, 0); })
                                   : time_terms(dev, factored, cols, [&](Eigen::Index j) { return cell_time(t_s, ages, 0, j); });
  const float inv_t0 = float(1.0 / dev.t0_s());
  // An array that never grew (the kept path serves grown ones) has no spare rows: its cells and
  // the output share one dense storage.
  const float* gp_all = g_prog_.data();
  float* g_all = g.data();
  float* var_all = st.noise_var.data();
  const bool faults = has_faults(dev);
  uint32_t fw[kChunk];
  float gp[kChunk], tc[kChunk], lt[kChunk], tf[kChunk], nu[kChunk], gt[kChunk], sr[kChunk], amp[kChunk], var[kChunk];
  const uint64_t n_cells = uint64_t(rows) * uint64_t(cols);
  // Storage order, a cell drawing its stream index (listed when the array is row-major): cells
  // k0 .. k0 + m - 1 of the storage are one consecutive run in and out.
  const bool row_major = order_ == CellOrder::row_major;
  uint64_t idx[kChunk];
  for (uint64_t k0 = 0; k0 < n_cells; k0 += kChunk) {
    const int m = int(std::min<uint64_t>(kChunk, n_cells - k0));
    // Time terms: the line's (cell_time of a cell whose other index has no ages), else per cell.
    if (by_line) {
      line_terms(line, per_row, factored, k0, m, rows, tc, lt, tf);
    } else {
      storage_runs(k0, m, rows, [&](int l, Eigen::Index i, Eigen::Index j, int n) {
        for (int r = 0; r < n; ++r) tc[l + r] = cell_time(t_s, ages, i + r, j);
      });
    }
    if (row_major) row_major_indices(k0, m, rows, cols, idx);
    std::copy_n(gp_all + k0, m, gp);
    const int nb = pad_lanes(m, gp, tc), n = nb * kLanes;
    if (row_major) pad_lanes(m, idx);
    if (by_line) {
      pad_lanes(m, lt);
      if (factored) pad_lanes(m, tf);
    } else {
      for (int l = 0; l < n; ++l) lt[l] = fastm::log_pos(tc[l] * inv_t0 + 1.0f);
    }
    const Lanes lanes = row_major ? Lanes{0, idx} : Lanes{k0};
    if (faults) fault_words(fault, lanes, nb, fw);
    drift_exponents(nu_rng, lanes, nb, dev, gp, faults ? fw : nullptr, nu);
    for (int l = 0; l < n; ++l) gt[l] = drifted(gp[l], nu[l], tc[l], lt[l]);
    if (factored) {
      dev.read_amp_n(n, gp, amp);
      for (int l = 0; l < n; ++l) sr[l] = std::abs(gt[l]) * amp[l] * tf[l];
    } else if (read_noise) {
      dev.read_sigma_n(n, gp, gt, tc, sr);
    }
    // On whole blocks first, so the divisions vectorize.
    if (read_noise)
      for (int l = 0; l < n; ++l) {
        const float sd = read_scale * sr[l] / dg;
        var[l] = sd * sd;
      }
    else
      std::fill_n(var, n, 0.0f);
    std::copy_n(gt, m, g_all + k0);
    std::copy_n(var, m, var_all + k0);
  }
  return through_wires(std::move(g), std::move(st), wires, read_noise);
}

void PhysicalArray::drift_kept(double t_s, const CellAges& ages, Eigen::MatrixXf& g, Eigen::MatrixXf& var) const {
  const DeviceModel& dev = *device_;
  const float dg = float(dev.g_max_uS() - dev.g_min_uS());
  const bool read_noise = dev.read_scale > 0;
  const float read_scale = float(dev.read_scale);
  const Eigen::Index rows = rows_, cols = cols_;
  const bool per_row = !ages.row_s.empty(), per_col = !ages.col_s.empty();
  // Storage order, with the column's time terms one per row: without row ages one value per
  // column (taken for all columns at once), with them per row (again per column only with column
  // ages too).
  const TimeTerms by_col = per_row ? TimeTerms{}
                                   : time_terms(dev, keep_amp_, cols, [&](Eigen::Index j) { return cell_time(t_s, ages, 0, j); });
  if (!per_row && read_noise && keep_amp_ && ld_ == rows) {
    // Column terms only, dense storage: the cells a chunk at a time with each cell's column terms
    // spread out, so the pass runs on whole vectors however short the columns (a K operand's, one
    // per token, have the head's few rows).
    const Eigen::Index n = rows * cols;
    float tc[kChunk], lt[kChunk], tf[kChunk];
    for (Eigen::Index k0 = 0; k0 < n; k0 += kChunk) {
      const int m = int(std::min<Eigen::Index>(kChunk, n - k0));
      line_terms(by_col, false, true, uint64_t(k0), m, rows, tc, lt, tf);
      drift_amp_column<true>(m, g_prog_.data() + k0, nu_.data() + k0, amp_.data() + k0, tc, lt, tf, read_scale, dg,
                             g.data() + k0, var.data() + k0);
    }
    return;
  }
  TimeTerms col;
  std::vector<float> sr(read_noise && !keep_amp_ ? static_cast<size_t>(rows) : 0);  // read_sigma_n's output
  if (!read_noise) var.setZero();
  for (Eigen::Index j = 0; j < cols; ++j) {
    if (per_row && (j == 0 || per_col))
      col = time_terms(dev, keep_amp_, rows, [&](Eigen::Index i) { return cell_time(t_s, ages, i, j); });
    const float* gp = g_prog_.data() + j * ld_;
    const float* nu = nu_.data() + j * ld_;
    float* gt = g.data() + j * rows;
    if (read_noise && keep_amp_) {
      const float* amp = amp_.data() + j * ld_;
      float* v = var.data() + j * rows;
      const size_t q = size_t(j);
      if (per_row) drift_amp_column<true>(rows, gp, nu, amp, col.tc.data(), col.lt.data(), col.tf.data(), read_scale, dg, gt, v);
      else drift_amp_column<false>(rows, gp, nu, amp, &by_col.tc[q], &by_col.lt[q], &by_col.tf[q], read_scale, dg, gt, v);
      continue;
    }
    if (per_row) {
      for (Eigen::Index i = 0; i < rows; ++i) gt[i] = drifted(gp[i], nu[i], col.tc[size_t(i)], col.lt[size_t(i)]);
    } else {  // one age down the column
      const float tc = by_col.tc[size_t(j)], lt = by_col.lt[size_t(j)];
      for (Eigen::Index i = 0; i < rows; ++i) gt[i] = drifted(gp[i], nu[i], tc, lt);
    }
    if (!read_noise) continue;
    if (!per_row) col.tc.assign(size_t(rows), by_col.tc[size_t(j)]);
    dev.read_sigma_n(int(rows), gp, gt, col.tc.data(), sr.data());
    float* v = var.data() + j * rows;
    for (Eigen::Index i = 0; i < rows; ++i) {
      const float sd = read_scale * sr[size_t(i)] / dg;
      v[i] = sd * sd;
    }
  }
}

}  // namespace xbar
