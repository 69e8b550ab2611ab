#include "engine/read_kernel.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "circuits/dac.h"
#include "circuits/rng_streams.h"
#include "common/error.h"
#include "common/largest.h"
#include "common/normal_fill.h"
#include "common/parallel.h"
#include "common/rng.h"

namespace xbar {

namespace {
// Batch rows per work item: a function of the shapes only, so GEMM blocking and summation order
// never depend on threads. Large chunks amortize packing the tile matrices; 128-row chunks when
// 256-row ones would leave fewer than 4 work items to share.
Eigen::Index batch_chunk(Eigen::Index B, int64_t col_tiles) {
  return ((B + 255) / 256) * col_tiles >= 4 ? 256 : 128;
}

using VRef = Eigen::Ref<const RowMatrixXf, 0, Eigen::OuterStride<>>;

// ADC saturations and conversions of work items.
struct Counts {
  int64_t sat = 0, conv = 0;
  Counts& operator+=(const Counts& o) {
    sat += o.sat;
    conv += o.conv;
    return *this;
  }
};

struct NoiseScratch {
  RowMatrixXf V2, Var, Z;
  Eigen::VectorXf zref;
};

// Read-noise variances of slice s's columns for the stacked inputs Vr: Var = V^2 S2 (docs/DESIGN.md,
// "Read noise at batch speed"); with the offset mapping also the reference column's, V^2 S2ref.
void read_noise_variance(const SliceRead& sr, const VRef& Vr, NoiseScratch& w) {
  w.V2 = Vr.cwiseAbs2();
  w.Var.noalias() = w.V2 * sr.S2;
  if (sr.S2ref.size() > 0) w.zref.noalias() = w.V2 * sr.S2ref;
}

// Adds slice s's read noise to Yk = Vr A (K stacked input slices of nb batch rows b0..): column
// noise ~ N(0, Var), with the offset mapping one more normal per read row for the reference
// column, whose noise is common to every column of the read. Normal (grow, j) of the array's
// stream is grow * n + j.
void add_read_noise(const Tile& t, const SliceRead& sr, const CounterRng& rng, Eigen::Index B, Eigen::Index b0, int K,
                    Eigen::Index nb, NoiseScratch& w, RowMatrixXf& Yk) {
  const RowMatrixXf& Var = w.Var;
  RowMatrixXf& Z = w.Z;
  const Eigen::VectorXf& zref = w.zref;
  const bool ref = sr.S2ref.size() > 0;
  const Eigen::Index n = t.cols + (ref ? 1 : 0);
  // Normals for 16 rows at a time, so they stay in L1 between drawing and use.
  constexpr Eigen::Index kRows = 16;
  Z.resize(kRows, n);
  for (int k = 0; k < K; ++k)
    for (Eigen::Index b = 0; b < nb; b += kRows) {
      const Eigen::Index m = std::min(kRows, nb - b), r0 = k * nb + b;
      fill_normal(rng, (uint64_t(k) * B + b0 + b) * uint64_t(n), m * n, Z.data());
      auto Yr = Yk.middleRows(r0, m).array();
      Yr += Var.middleRows(r0, m).array().sqrt() * Z.topLeftCorner(m, t.cols).array();
      if (ref) Yr.colwise() -= zref.segment(r0, m).array().sqrt() * Z.block(0, t.cols, m, 1).array();
    }
}

// Per input column, over the K input slices of batch rows [b0, b0 + nb): sum of v^2 (in double,
// so the array-energy sum is exact to rounding) and the number of nonzero values (pulses).
struct InputStats {
  Eigen::VectorXd v2;
  Eigen::Matrix<int64_t, Eigen::Dynamic, 1> nonzero;
};

InputStats input_stats(const RowMatrixXf& stacked, Eigen::Index B, int K, Eigen::Index b0, Eigen::Index nb) {
  const Eigen::Index n = stacked.cols();
  InputStats s;
  s.v2.setZero(n);
  s.nonzero.setZero(n);
  for (int k = 0; k < K; ++k)
    for (Eigen::Index b = b0; b < b0 + nb; ++b) {
      const float* row = stacked.row(k * B + b).data();
      for (Eigen::Index i = 0; i < n; ++i) {
        const double v = row[i];
        s.v2[i] += v * v;
        s.nonzero[i] += row[i] != 0.f;
      }
    }
  return s;
}

struct Keys {
  uint64_t noise, adc;
};

Keys read_keys(uint64_t chip_key, ReadRequest r) {
  switch (r.kind) {
    case ReadKind::user:
      return {make_key(chip_key, stream_id(Stream::read_noise), r.index),
              make_key(chip_key, stream_id(Stream::adc_noise), r.index)};
    case ReadKind::calibration:
      return {make_key(chip_key, stream_id(Stream::read_noise), ~uint64_t(0)),
              make_key(chip_key, stream_id(Stream::adc_noise), ~uint64_t(0))};
    case ReadKind::drift_reference:
      return {make_key(chip_key, stream_id(Stream::ref_read_noise), r.index),
              make_key(chip_key, stream_id(Stream::ref_adc_noise), r.index)};
  }
  throw InputError("read: unknown read kind " + std::to_string(int(r.kind)));
}
}  // namespace

struct ReadKernel::Scratch {
  RowMatrixXf V, Yk, T;
  RowMatrixXf acc;  // this item's block of Y, summed over row tiles and slices
  NoiseScratch noise;
  std::vector<float> factor;
  std::vector<LargestSelector> largest;  // calibration: per (tile, slice), this thread's items
};

void ReadEvents::add(const ReadEvents& o) {
  analog_macs += o.analog_macs;
  input_pulses += o.input_pulses;
  input_drives += o.input_drives;
  array_v2g_uS += o.array_v2g_uS;
  column_outputs += o.column_outputs;
  accumulations += o.accumulations;
}

ReadKernel::ReadKernel() = default;
ReadKernel::~ReadKernel() = default;
ReadKernel::ReadKernel(ReadKernel&&) noexcept = default;
ReadKernel& ReadKernel::operator=(ReadKernel&&) noexcept = default;

ReadOutput ReadKernel::run(const ReadTarget& target, ReadRequest request, const Eigen::Ref<const RowMatrixXf>& X) {
  return run_blocks(target, request, X.rows(), X.cols(), false,
                    [&](Eigen::Index first, Eigen::Index n) { return BlockRef(X.middleRows(first, n)); });
}

ReadOutput ReadKernel::run(const ReadTarget& target, ReadRequest request, const RowSource& source) {
  if (request.kind != ReadKind::user || request.kept)
    throw Error("read: a row source serves user reads without kept products only");
  return run_blocks(target, request, source.rows, source.cols, true, [&](Eigen::Index first, Eigen::Index n) {
    rows_.resize(n, source.cols);
    source.fill(first, n, rows_.data());
    return BlockRef(rows_);
  });
}

ReadOutput ReadKernel::run_blocks(const ReadTarget& target, ReadRequest request, Eigen::Index B, Eigen::Index cols,
                                  bool in_blocks, const BlockFn& rows_of) {
  const XbarConfig& cfg = target.cfg;
  const std::vector<Tile>& tiles = target.tiles;
  const std::vector<std::vector<SliceRead>>& state = target.state.tiles;
  const bool calibration = request.kind == ReadKind::calibration;
  const bool reference = request.kind == ReadKind::drift_reference;
  ReadOutput out;
  if (B == 0) {  // nothing to convert: no range needed
    out.Y = RowMatrixXf::Zero(B, target.out);
    return out;
  }
  if (!calibration && !cfg.adc.ideal() && cfg.adc.range == AdcRange::calibrated && !target.state.adc_calibrated())
    throw InputError("read: adc.range = calibrated but calibrate() was not run");
  if (!calibration) out.Y.resize(B, target.out);  // every element is written once by the item that owns it
  RowMatrixXf& Y = out.Y;
  // The user read after a calibration that kept its products takes its DAC output (dac_ and the
  // kept one swap buffers, so neither is reallocated).
  KeptProducts* kept = request.kept;
  const bool take = request.kind == ReadKind::user && kept && kept->batch >= 0;
  if (take && kept->batch != B)
    throw Error("read: products kept for a batch of " + std::to_string(kept->batch) + " taken by a batch of " +
                std::to_string(B));
  const SliceLayout lay = slice_layout(cfg.mapping);
  const Keys keys = read_keys(target.chip_key, request);
  // Work items: (batch chunk, column tile); each owns its block of Y.
  std::vector<int> col_starts;
  for (const auto& t : tiles)
    if (col_starts.empty() || col_starts.back() != t.c0) col_starts.push_back(t.c0);
  const int64_t n_cols = int64_t(col_starts.size());
  const Eigen::Index chunk = batch_chunk(B, n_cols);
  const Eigen::Index n_chunks = (B + chunk - 1) / chunk;
  const int64_t n_items = n_chunks * n_cols;
  const int threads = cfg.run.threads > 0 ? cfg.run.threads : omp_get_max_threads();
  if (int(scratch_.size()) < threads) scratch_.resize(size_t(threads));
  // Rows taken and converted at a time: all of them, or whole batch chunks of about
  // kSourceBlockBytes (at least one chunk per thread), so that a block stays in cache from its
  // copy to the products. Items, and so every result, are those of one block.
  const Eigen::Index per_chunk = chunk * std::max<Eigen::Index>(cols, 1) * Eigen::Index(sizeof(float));
  const Eigen::Index block =
      in_blocks ? chunk * std::max<Eigen::Index>(threads, kSourceBlockBytes / per_chunk) : B;
  const int K = cfg.dac.slices();
  if (calibration) {
    // Each thread selects over its items; the merged selection does not depend on the split.
    std::vector<LargestSelector> fresh;
    for (size_t ti = 0; ti < tiles.size(); ++ti) {
      const size_t n = size_t(K) * size_t(B) * size_t(tiles[ti].cols);
      fresh.insert(fresh.end(), state[ti].size(), LargestSelector(adc_percentile_rank(cfg.adc.percentile, n)));
    }
    for (int th = 0; th < threads; ++th) scratch_[size_t(th)].largest = fresh;
  }
  size_t n_slices = 0;
  int64_t kept_bytes = 0;
  bool noisy = false;
  for (size_t ti = 0; ti < tiles.size(); ++ti) {
    n_slices += state[ti].size();
    for (const SliceRead& sr : state[ti]) {
      noisy = noisy || sr.S2.size() > 0;
      kept_bytes += int64_t(sizeof(float)) * K * B * tiles[ti].cols * (sr.S2.size() > 0 ? 2 : 1);
    }
  }
  const bool keep = calibration && kept && kept_bytes <= kKeptProductsLimit;
  const bool reuse = take && kept->products.size() == size_t(n_items) * n_slices;
  if (calibration && kept) *kept = KeptProducts{};
  if (keep) {
    kept->products.resize(size_t(n_items) * n_slices);
    if (noisy) kept->variances.resize(kept->products.size()), kept->ref_variances.resize(kept->products.size());
  }
  const bool count = count_events_ && request.kind == ReadKind::user;
  if (count) item_events_.assign(size_t(n_items), ReadEvents{});
  std::vector<InputStats> stats;  // per batch chunk of the block, shared by its column tiles

  Counts counts;
  for (Eigen::Index first = 0; first < B; first += block) {
    const Eigen::Index rows = std::min(block, B - first);
    if (take) std::swap(dac_, kept->dac);
    else dac_convert(cfg.dac, rows_of(first, rows), dac_);
    out.dac_clipped += dac_.clipped;
    const DacOutput& in = dac_;  // rows [first, first + rows) of the batch
    const Eigen::Index c_first = first / chunk, c_count = (rows + chunk - 1) / chunk;
    if (count) {
      stats.assign(size_t(c_count), InputStats{});
      parallel_for(c_count, threads, Split::even, true, [&](int64_t c) {
        stats[size_t(c)] = input_stats(in.stacked, rows, K, c * chunk, std::min(chunk, rows - c * chunk));
      });
    }

    // Products inside a work item run on its thread: the fixed GEMM blocking keeps results
    // independent of the thread count.
    counts += parallel_sum<Counts>(c_count * n_cols, threads, Split::dynamic, true, [&](int64_t local_item) {
      Counts n;
      const int64_t item = c_first * n_cols + local_item;
      const Eigen::Index b0 = (item / n_cols) * chunk, lb0 = b0 - first;  // batch row, row in the block
      const Eigen::Index nb = std::min(chunk, B - b0);
      const int c0 = col_starts[size_t(item % n_cols)];
      Scratch& work = scratch_[size_t(omp_get_thread_num())];
      RowMatrixXf &V = work.V, &Yk = work.Yk, &T = work.T, &acc = work.acc;
      std::vector<float>& factor = work.factor;
      bool acc_used = false;
      size_t collect_k = 0;
      for (size_t ti = 0; ti < tiles.size(); ++ti) {
        const Tile& t = tiles[ti];
        const std::vector<SliceRead>& ts = state[ti];
        if (t.c0 != c0) {
          collect_k += ts.size();
          continue;
        }
        if (!acc_used) acc.setZero(nb, t.cols);
        ReadEvents* ev = count ? &item_events_[size_t(item)] : nullptr;
        if (ev && acc_used) ev->accumulations += int64_t(nb) * t.cols;
        acc_used = true;
        const Eigen::Map<const Eigen::ArrayXf> col_scale(t.col_scale.data(), t.cols);
        // Input voltages of this tile's rows for all slices, stacked: row k*nb + b.
        // One input slice: read the DAC output in place; several: stack them for one GEMM.
        if (K > 1) {
          V.resize(K * nb, t.rows);
          for (int k = 0; k < K; ++k) V.middleRows(k * nb, nb) = in.stacked.block(k * rows + lb0, t.r0, nb, t.rows);
        }
        const VRef Vr = K > 1 ? VRef(V) : VRef(in.stacked.block(lb0, t.r0, nb, t.rows));
        if (ev) {
          const InputStats& st = stats[size_t(lb0 / chunk)];
          int64_t n_arrays = 0;
          for (const auto& a : t.arrays) n_arrays += int64_t(a.size());
          ev->input_pulses += st.nonzero.segment(t.r0, t.rows).sum() * n_arrays;
          ev->input_drives += int64_t(K) * nb * t.rows * n_arrays;
          ev->analog_macs += int64_t(nb) * t.rows * t.cols;
          ev->column_outputs += int64_t(K) * nb * t.cols * int64_t(ts.size());
          for (const SliceRead& sr : ts) ev->array_v2g_uS += st.v2.segment(t.r0, t.rows).dot(sr.g_row_uS);
        }
        // Ideal readout (no read noise, no ADC): the slices' GEMMs sum straight into T.
        const bool direct = !calibration && cfg.adc.ideal();
        bool t_used = false;
        for (size_t s = 0; s < ts.size(); ++s, ++collect_k) {
          const SliceRead& sr = ts[s];
          if (direct && sr.S2.size() == 0) {
            for (int k = 0; k < K; ++k) {
              const float w = float(lay.weight[s] * in.weight[k]);
              if (t_used) T.noalias() += w * (Vr.middleRows(k * nb, nb) * sr.A);
              else T.noalias() = w * (Vr.middleRows(k * nb, nb) * sr.A);
              t_used = true;
            }
            continue;
          }
          const size_t kept_at = size_t(item) * n_slices + collect_k;
          if (reuse) Yk.swap(kept->products[kept_at]);
          else Yk.noalias() = Vr * sr.A;
          if (keep) kept->products[kept_at] = Yk;
          const uint64_t aid = t.arrays[s][0].id();
          if (sr.S2.size() > 0) {
            if (reuse) {
              work.noise.Var.swap(kept->variances[kept_at]);
              work.noise.zref.swap(kept->ref_variances[kept_at]);
            } else {
              read_noise_variance(sr, Vr, work.noise);
            }
            if (keep) kept->variances[kept_at] = work.noise.Var, kept->ref_variances[kept_at] = work.noise.zref;
            add_read_noise(t, sr, CounterRng(keys.noise, aid), B, b0, K, nb, work.noise, Yk);
          }
          if (calibration) {
            work.largest[collect_k].add_abs(Yk.data(), size_t(Yk.size()));
            continue;
          }
          for (int k = 0; k < K; ++k) {
            // Digital shift-add and unscaling: column factor slice weight x input weight x scale.
            const float w = float(lay.weight[s] * in.weight[k]);
            factor.resize(size_t(t.cols));
            Eigen::Map<Eigen::ArrayXf>(factor.data(), t.cols) = w * col_scale;
            if (cfg.adc.ideal()) {
              acc.array() += Yk.middleRows(k * nb, nb).array().rowwise() * Eigen::Map<const Eigen::ArrayXf>(factor.data(), t.cols).transpose();
            } else {
              const CounterRng rng(keys.adc, aid);
              n.sat += adc_convert_add(cfg.adc, sr.lsb, sr.adc, Yk.middleRows(k * nb, nb), rng, uint64_t(k) * B + b0,
                                     uint64_t(t.cols), factor.data(), acc);
            }
          }
          if (!cfg.adc.ideal()) n.conv += int64_t(K) * nb * t.cols;
        }
        if (t_used) acc.array() += T.array().rowwise() * col_scale.transpose();
      }
      if (calibration || !acc_used) return n;
      // Input unscaling (per vector), written once into Y.
      const Eigen::Map<const Eigen::ArrayXf> scale(in.scale.data() + lb0, nb);
      auto Yb = Y.block(b0, c0, nb, acc.cols()).array();
      Yb = acc.array().colwise() * scale;
      if (reference) return n;  // the reference response is compared without factors or bias
      // Drift compensation: digital, after the ADC and before the bias.
      if (!target.drift_factor.empty())
        Yb.rowwise() *= Eigen::Map<const Eigen::ArrayXf>(target.drift_factor.data() + c0, acc.cols()).transpose();
      Yb.rowwise() += Eigen::Map<const Eigen::ArrayXf>(target.bias.data() + c0, acc.cols()).transpose();
      return n;
    });
  }
  if (calibration) {
    std::vector<LargestSelector>& all = scratch_[0].largest;
    for (int th = 1; th < threads; ++th)
      for (size_t k = 0; k < all.size(); ++k) all[k].merge(scratch_[size_t(th)].largest[k]);
    for (LargestSelector& l : all) out.full_scales.push_back(l.value());
    for (int th = 0; th < threads; ++th) scratch_[size_t(th)].largest = {};  // release the buffers
  }
  out.saturations = counts.sat;
  out.conversions = counts.conv;
  if (count)
    for (const ReadEvents& e : item_events_) out.events.add(e);
  if (calibration && kept) {
    kept->batch = B;
    std::swap(dac_, kept->dac);
  }
  return out;
}

}  // namespace xbar
