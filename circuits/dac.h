// Input stage: scale each input vector to the DAC's full-scale voltage, quantize, optionally
// split into bit-serial slices. Output voltages are normalized to [-1, 1] (1 = full scale).
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "common/fields.h"
#include "common/matrix.h"

namespace xbar {

// Input scaling: each input vector's max |x| to full scale, or a fixed input range.
enum class DacRange { absmax, static_ };
template <>
struct EnumNames<DacRange> {
  static constexpr EnumName<DacRange> table[] = {{DacRange::absmax, "absmax"}, {DacRange::static_, "static"}};
};

struct DacConfig {
  int bits = 0;                  // resolution incl. sign when signed (0: unquantized)
  DacRange range = DacRange::absmax;
  double static_range = 1.0;     // input magnitude mapped to full scale (range = static)
  bool is_signed = true;         // signed DAC (bipolar voltages); unsigned clips negatives to 0
  int slice_bits = 0;            // bit-serial: magnitude fed in slices of this many bits (0: one read)

  static const char* section() { return "dac"; }
  static const std::vector<Field<DacConfig>>& fields();
  void validate() const;
  int magnitude_bits() const { return is_signed ? bits - 1 : bits; }
  // Number of input slices (reads) per input vector.
  int slices() const;
  // Step of the normalized voltage of one slice (0: continuous inputs).
  double unit() const;
};

// x ~= scale[b] * sum_k weight[k] * slice[k](b, :). Slices are stacked vertically:
// rows [k*B, (k+1)*B) of `stacked` hold slice k.
struct DacOutput {
  RowMatrixXf stacked;          // (K*B) x N normalized voltages in [-1, 1]
  std::vector<float> scale;     // B per-vector input scales (input units per full-scale volt)
  std::vector<double> weight;   // K slice weights
  int64_t clipped = 0;          // inputs beyond the static range (or negative for unsigned)
};

DacOutput dac_convert(const DacConfig& cfg, const Eigen::Ref<const RowMatrixXf>& x);
// The same into `out`, reusing its storage when the shape repeats (a layer's reads keep one
// buffer: a fresh one costs a page fault per 4 KiB on every read). Every element is rewritten.
void dac_convert(const DacConfig& cfg, const Eigen::Ref<const RowMatrixXf>& x, DacOutput& out);

}  // namespace xbar
