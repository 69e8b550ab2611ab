#include "circuits/dac.h"

#include <cmath>

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
  const Eigen::Index B = x.rows(), N = x.cols();
  const int K = cfg.slices();
  DacOutput out;
  out.stacked.resize(K * B, N);
  out.scale.resize(B);
  const bool sliced = cfg.bits > 0 && cfg.slice_bits > 0 && K > 1;
  const int kb = sliced ? cfg.slice_bits : 0;
  const double levels = cfg.bits > 0 ? std::ldexp(1.0, cfg.magnitude_bits()) - 1.0 : 0.0;
  const double step = sliced ? std::ldexp(1.0, kb) - 1.0 : levels;
  for (int k = 0; k < K; ++k)
    out.weight.push_back(sliced ? step * std::ldexp(1.0, kb * k) / levels : 1.0);

  int64_t clipped = 0;
  const double lo = cfg.is_signed ? -1.0 : 0.0;
  const bool absmax = cfg.range == DacRange::absmax;
  // Rows are independent: parallel and vectorized, same result at any thread count.
#pragma omp parallel for schedule(static) reduction(+ : clipped)
  for (Eigen::Index b = 0; b < B; ++b) {
    Eigen::ArrayXd v = x.row(b).transpose().cast<double>().array();
    double r = cfg.static_range;
    if (absmax) {
      r = N > 0 ? v.abs().maxCoeff() : 0.0;
      if (r == 0) r = 1;  // an all-zero vector reads as zero at any scale
    }
    out.scale[b] = float(r);
    v /= r;
    clipped += (v > 1.0).count() + (v < lo).count();
    v = v.min(1.0).max(lo);
    if (cfg.bits == 0) {
      out.stacked.row(b) = v.cast<float>().matrix().transpose();
    } else if (!sliced) {
      // rint is symmetric (half to even), so this is sign(v) * round(|v| levels) / levels.
      out.stacked.row(b) = ((v * levels).rint() / levels).cast<float>().matrix().transpose();
    } else {
      const int64_t mask = (int64_t(1) << kb) - 1;
      for (Eigen::Index i = 0; i < N; ++i) {
        const double sign = v(i) < 0 ? -1.0 : 1.0;
        const int64_t m = int64_t(std::nearbyint(std::abs(v(i)) * levels));
        for (int k = 0; k < K; ++k)
          out.stacked(k * B + b, i) = float(sign * double((m >> (kb * k)) & mask) / step);
      }
    }
  }
  out.clipped = clipped;
  return out;
}

}  // namespace xbar
