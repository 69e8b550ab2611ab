#include "circuits/adc.h"

#include <algorithm>
#include <cmath>

#include "common/normal_fill.h"

namespace xbar {

const std::vector<Field<AdcConfig>>& AdcConfig::fields() {
  using A = AdcConfig;
  static const std::vector<Field<A>> f = {
      {"bits", "bit", "ADC resolution incl. sign (0: ideal readout)", &A::bits, 0, 24},
      {"range", "", "full-scale choice: worst_case (max possible column signal), fixed (fraction of it), calibrated (percentile of calibration data)",
       &A::range},
      {"fixed_fraction", "", "range = fixed: full scale as a fraction of the worst-case column signal", &A::fixed_fraction, 1e-9, 1},
      {"percentile", "%", "range = calibrated: full scale at this percentile of |column signal| on calibration inputs",
       &A::percentile, 1, 100},
      {"offset_sigma_lsb", "LSB", "per-ADC offset std, fixed per programmed chip", &A::offset_sigma_lsb, 0, 1e6},
      {"gain_sigma", "", "per-ADC relative gain error std, fixed per programmed chip", &A::gain_sigma, 0, 1},
      {"noise_sigma_lsb", "LSB", "additive noise std per conversion", &A::noise_sigma_lsb, 0, 1e6},
  };
  return f;
}

void AdcConfig::validate() const {
  check_fields(*this);
  if (bits == 1) throw ConfigError("adc.bits", "1", "a signed ADC needs at least 2 bits");
  if (bits == 0 && (offset_sigma_lsb > 0 || noise_sigma_lsb > 0))
    throw ConfigError(offset_sigma_lsb > 0 ? "adc.offset_sigma_lsb" : "adc.noise_sigma_lsb",
                      format_double(std::max(offset_sigma_lsb, noise_sigma_lsb)),
                      "errors in LSB need adc.bits > 0");
}

size_t adc_percentile_rank(double percentile, size_t n) {
  if (n == 0) return 1;
  const size_t pos = std::min(n - 1, size_t(std::ceil(percentile / 100.0 * double(n))));
  return n - pos;
}

double adc_lsb(const AdcConfig& cfg, double full_scale, double unit) {
  const double top = std::ldexp(1.0, cfg.bits - 1) - 1.0;  // largest positive code
  if (cfg.range == AdcRange::worst_case && unit > 0) {
    const int e = std::max(0, int(std::ceil(std::log2(full_scale / (unit * top)) - 1e-12)));
    return unit * std::ldexp(1.0, e);
  }
  return full_scale / top;
}

void AdcBank::draw(const AdcConfig& cfg, int columns, uint64_t key) {
  offset_lsb.assign(columns, 0.f);
  gain.assign(columns, 1.f);
  const CounterRng rng(key);
  if (cfg.offset_sigma_lsb == 0 && cfg.gain_sigma == 0) {
    // gain 1 + 0 z1 = 1; offset 0 z0: a zero with z0's sign (it decides the sign of a zero code).
    // z0's sign from its angle word (CounterRng::cos_negative), 16 columns' blocks at a time (a KV
    // cache's K draws a bank of one column per token at every decode step).
    uint32_t w[4][16];
    for (int j0 = 0; j0 < columns; j0 += 16) {
      rng.lanes16(uint64_t(j0), w);
      for (int l = 0; l < 16 && j0 + l < columns; ++l) offset_lsb[size_t(j0 + l)] = CounterRng::cos_negative(w[1][l]) ? -0.0f : 0.0f;
    }
    return;
  }
  for (int j = 0; j < columns; ++j) {
    double z0, z1;
    rng.normal2(uint64_t(j), z0, z1);
    offset_lsb[j] = float(cfg.offset_sigma_lsb * z0);
    gain[j] = float(1.0 + cfg.gain_sigma * z1);
  }
}

namespace {
// Converts every row of y to codes (gain, offset, noise, rounding, clamping) and hands each row's
// clamped codes to sink(r, codes). Returns the saturated count. Float is exact enough: codes are
// integers below 2^23 and a code boundary moves by at most ~1e-7 LSB.
template <class Sink>
int64_t convert_rows(const AdcConfig& cfg, double lsb, const AdcBank& bank, const Eigen::Ref<const RowMatrixXf>& y,
                     const CounterRng& noise_rng, uint64_t first_row, uint64_t row_stride, Sink sink) {
  const float lo = -std::ldexp(1.0f, cfg.bits - 1), hi = std::ldexp(1.0f, cfg.bits - 1) - 1.0f;
  const bool noisy = cfg.noise_sigma_lsb > 0;
  const Eigen::Index C = y.cols();
  const Eigen::ArrayXf gain = (Eigen::Map<const Eigen::ArrayXf>(bank.gain.data(), C).cast<double>() / lsb).cast<float>();
  const Eigen::Map<const Eigen::ArrayXf> offset(bank.offset_lsb.data(), C);
  Eigen::ArrayXf code(C), z(noisy ? C : 0);
  int64_t sat = 0;
  for (Eigen::Index r = 0; r < y.rows(); ++r) {
    code = gain * y.row(r).transpose().array() + offset;
    if (noisy) {
      fill_normal(noise_rng, (first_row + uint64_t(r)) * row_stride, C, z.data());
      code += float(cfg.noise_sigma_lsb) * z;
    }
    code = code.rint();
    sat += (code > hi).count() + (code < lo).count();
    code = code.max(lo).min(hi);
    sink(r, code);
  }
  return sat;
}
}  // namespace

int64_t adc_convert(const AdcConfig& cfg, double lsb, const AdcBank& bank, Eigen::Ref<RowMatrixXf> y,
                    const CounterRng& noise_rng, uint64_t first_row, uint64_t row_stride) {
  if (cfg.bits == 0) return 0;
  return convert_rows(cfg, lsb, bank, y, noise_rng, first_row, row_stride, [&](Eigen::Index r, const Eigen::ArrayXf& code) {
    y.row(r) = (code * float(lsb)).matrix().transpose();
  });
}

int64_t adc_convert_add(const AdcConfig& cfg, double lsb, const AdcBank& bank, const Eigen::Ref<const RowMatrixXf>& y,
                        const CounterRng& noise_rng, uint64_t first_row, uint64_t row_stride, const float* col_factor,
                        Eigen::Ref<RowMatrixXf> acc) {
  const Eigen::Index C = y.cols();
  const Eigen::ArrayXf f = (Eigen::Map<const Eigen::ArrayXf>(col_factor, C).cast<double>() * lsb).cast<float>();
  if (cfg.noise_sigma_lsb > 0)
    return convert_rows(cfg, lsb, bank, y, noise_rng, first_row, row_stride, [&](Eigen::Index r, const Eigen::ArrayXf& code) {
      acc.row(r).array() += (code * f).transpose();
    });
  // Noiseless: convert_rows' operations in the same order, one fused loop per row (no per-row
  // temporaries or reductions; the saturations are summed in lanes).
  const float lo = -std::ldexp(1.0f, cfg.bits - 1), hi = std::ldexp(1.0f, cfg.bits - 1) - 1.0f;
  const Eigen::ArrayXf gain = (Eigen::Map<const Eigen::ArrayXf>(bank.gain.data(), C).cast<double>() / lsb).cast<float>();
  const float* g = gain.data();
  const float* off = bank.offset_lsb.data();
  const float* fc = f.data();
  int64_t sat = 0;
  for (Eigen::Index r = 0; r < y.rows(); ++r) {
    const float* yr = y.row(r).data();
    float* ar = acc.row(r).data();
    int32_t row_sat = 0;
    for (Eigen::Index c = 0; c < C; ++c) {
      const float code = std::rint(g[c] * yr[c] + off[c]);
      row_sat += int32_t(code > hi) + int32_t(code < lo);
      ar[c] += std::min(std::max(code, lo), hi) * fc[c];
    }
    sat += row_sat;
  }
  return sat;
}

}  // namespace xbar
