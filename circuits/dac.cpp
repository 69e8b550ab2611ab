#include "circuits/dac.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/fast_math.h"
#include "common/parallel.h"

namespace xbar {

const std::vector<Field<DacConfig>>& DacConfig::fields() {
  using D = DacConfig;
  static const std::vector<Field<D>> f = {
      {"bits", "bit", "DAC resolution incl. sign bit when signed (0: ideal, unquantized inputs)", &D::bits, 0, 24},
      {"range", "", "input scaling: absmax (each input vector's max |x| maps to full scale) or static", &D::range},
      {"static_range", "input units", "input magnitude mapped to full-scale voltage when range = static (larger inputs clip)",
       &D::static_range, 1e-30, 1e30},
      {"is_signed", "", "bipolar DAC; false: unsigned, negative inputs clip to 0 (e.g. after ReLU)", &D::is_signed},
      {"slice_bits", "bit", "bit-serial input: magnitude fed in slices of this many bits, one read each (0: one read)",
       &D::slice_bits, 0, 24},
  };
  return f;
}

void DacConfig::validate() const {
  check_fields(*this);
  if (bits == 1 && is_signed) throw ConfigError("dac.bits", "1", "a signed DAC needs at least 2 bits");
  if (slice_bits > 0 && bits == 0)
    throw ConfigError("dac.slice_bits", std::to_string(slice_bits), "bit-serial input needs dac.bits > 0");
}

int DacConfig::slices() const {
  if (bits == 0 || slice_bits == 0 || slice_bits >= magnitude_bits()) return 1;
  return (magnitude_bits() + slice_bits - 1) / slice_bits;
}

double DacConfig::unit() const {
  if (bits == 0) return 0.0;
  return 1.0 / (std::ldexp(1.0, slices() > 1 ? slice_bits : magnitude_bits()) - 1.0);
}

DacOutput dac_convert(const DacConfig& cfg, const Eigen::Ref<const RowMatrixXf>& x) {
  DacOutput out;
  dac_convert(cfg, x, out);
  return out;
}

// x is finite: the layer checks its inputs (fastm::abs_max relies on it).
void dac_convert(const DacConfig& cfg, const Eigen::Ref<const RowMatrixXf>& x, DacOutput& out) {
  const Eigen::Index B = x.rows(), N = x.cols();
  const int K = cfg.slices();
  out.stacked.resize(K * B, N);
  out.scale.resize(B);
  out.weight.clear();
  const bool sliced = cfg.bits > 0 && cfg.slice_bits > 0 && K > 1;
  const int kb = sliced ? cfg.slice_bits : 0;
  const double levels = cfg.bits > 0 ? std::ldexp(1.0, cfg.magnitude_bits()) - 1.0 : 0.0;
  const double step = sliced ? std::ldexp(1.0, kb) - 1.0 : levels;
  // float(m * (1 / levels)) == float(m / levels) for every code |m| <= levels < 2^24: m / levels
  // is never a float rounding midpoint and lies > 2^27 / levels double ulps from one, while the
  // product is within 2 ulps of the quotient (tests/circuits: every code of 2..24-bit DACs).
  const double inv_levels = levels > 0 ? 1.0 / levels : 0.0;
  for (int k = 0; k < K; ++k)
    out.weight.push_back(sliced ? step * std::ldexp(1.0, kb * k) / levels : 1.0);

  const double lo = cfg.is_signed ? -1.0 : 0.0;
  const bool absmax = cfg.range == DacRange::absmax;
  const int64_t mask = (int64_t(1) << kb) - 1;
  // Rows are independent: parallel, each a pass over the row in double without temporaries
  // (convolutions send many short rows); a small batch runs inline.
  constexpr int64_t kShareElements = int64_t(1) << 15;
  out.clipped = parallel_sum<int64_t>(B, omp_get_max_threads(), Split::even, int64_t(B) * N >= kShareElements,
                                      [&](Eigen::Index b) {
    const float* xr = x.row(b).data();
    double r = cfg.static_range;
    if (absmax) {
      r = double(fastm::abs_max(xr, size_t(N)));
      if (r == 0) r = 1;  // an all-zero vector reads as zero at any scale
    }
    out.scale[b] = float(r);
    float* yr = out.stacked.row(b).data();  // slice 0 (the only one unless sliced)
    int64_t row_clipped = 0;
    const double inv_r = 1.0 / r;
    // v = clamp(x / r, lo, 1), counting the clipped inputs; x / r by fastm::div_floats when r is a
    // float (always for absmax), the divide otherwise.
    auto convert = [&](auto quotient) {
      auto clamp = [&](Eigen::Index i) {
        const double v = quotient(double(xr[i]));
        row_clipped += int64_t(v > 1.0) + int64_t(v < lo);
        return std::max(std::min(v, 1.0), lo);
      };
      if (cfg.bits == 0) {
        for (Eigen::Index i = 0; i < N; ++i) yr[i] = float(clamp(i));
      } else if (!sliced) {
        // rint is symmetric (half to even), so this is sign(v) * round(|v| levels) / levels; the
        // product with 1 / levels rounds to the same float as the quotient (see inv_levels).
        for (Eigen::Index i = 0; i < N; ++i) yr[i] = float(std::rint(clamp(i) * levels) * inv_levels);
      } else {
        for (Eigen::Index i = 0; i < N; ++i) {
          const double v = clamp(i);
          const double sign = v < 0 ? -1.0 : 1.0;
          const int64_t m = int64_t(std::nearbyint(std::abs(v) * levels));
          for (int k = 0; k < K; ++k) out.stacked(k * B + b, i) = float(sign * double((m >> (kb * k)) & mask) / step);
        }
      }
    };
    if (double(float(r)) == r) convert([&](double x) { return fastm::div_floats(x, r, inv_r); });
    else convert([&](double x) { return x / r; });
    return row_clipped;
  });
}

}  // namespace xbar
