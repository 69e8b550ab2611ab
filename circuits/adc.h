// Output stage: per-column analog-to-digital conversion of the (normalized) column signal with
// finite resolution and range, saturation counting, per-ADC offset and gain variation (fixed per
// chip) and additive noise (fresh per conversion).
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "common/fields.h"
#include "common/matrix.h"
#include "common/rng.h"

namespace xbar {

// Full scale: the largest possible column signal, a fraction of it, or a percentile of
// calibration data.
enum class AdcRange { worst_case, fixed, calibrated };
template <>
struct EnumNames<AdcRange> {
  static constexpr EnumName<AdcRange> table[] = {
      {AdcRange::worst_case, "worst_case"}, {AdcRange::fixed, "fixed"}, {AdcRange::calibrated, "calibrated"}};
};

struct AdcConfig {
  int bits = 0;                      // resolution incl. sign (0: ideal, no conversion error)
  AdcRange range = AdcRange::worst_case;
  double fixed_fraction = 1.0;       // range = fixed: full scale as a fraction of the worst case
  double percentile = 99.99;         // range = calibrated: full scale at this percentile of |signal|
  double offset_sigma_lsb = 0.0;     // per-ADC offset, std in LSB (fixed per chip)
  double gain_sigma = 0.0;           // per-ADC relative gain error, std (fixed per chip)
  double noise_sigma_lsb = 0.0;      // additive noise per conversion, std in LSB

  static const char* section() { return "adc"; }
  static const std::vector<Field<AdcConfig>>& fields();
  void validate() const;
  bool ideal() const { return bits == 0; }
};

// Calibrated range over n magnitudes: the full scale is the value at ascending position
// min(n - 1, ceil(percentile / 100 * n)), returned here as its rank r from the top (1 = largest).
size_t adc_percentile_rank(double percentile, size_t n);

// LSB for a full-scale range. When the signal lives on an integer grid of step `unit` (>0) and
// the range is worst_case, the LSB is the smallest power-of-two multiple of `unit` whose codes
// cover full_scale: then enough bits make conversion exact (CrossSim's bound
// B_ADC >= B_W + ceil(log2 rows) for 1-bit input slices). Otherwise full_scale / (2^(bits-1) - 1).
double adc_lsb(const AdcConfig& cfg, double full_scale, double unit);

// Per-column static errors of one ADC bank, drawn from a chip seed.
struct AdcBank {
  std::vector<float> offset_lsb, gain;
  void draw(const AdcConfig& cfg, int columns, uint64_t key);
};

// Converts y (rows x columns block, in place): y <- lsb * clamp(round((gain*y)/lsb + offset +
// noise)). noise_rng draws normals (first_row + r) * row_stride + c .. (see fill_normal). Returns
// the saturated count. cfg.bits must be > 0 for adc_convert_add.
int64_t adc_convert(const AdcConfig& cfg, double lsb, const AdcBank& bank, Eigen::Ref<RowMatrixXf> y,
                    const CounterRng& noise_rng, uint64_t first_row, uint64_t row_stride);
// The same conversion of y, accumulated instead of stored: acc(r, c) += col_factor[c] * converted
// y(r, c) (the digital shift-add and unscaling fused into the conversion pass; y is unchanged).
int64_t adc_convert_add(const AdcConfig& cfg, double lsb, const AdcBank& bank, const Eigen::Ref<const RowMatrixXf>& y,
                        const CounterRng& noise_rng, uint64_t first_row, uint64_t row_stride, const float* col_factor,
                        Eigen::Ref<RowMatrixXf> acc);

}  // namespace xbar
