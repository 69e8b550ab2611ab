// The typed choices of a policy: operator class, mode and phase, each with one name table; the
// names are the text of policy files, layer-state pickles and reports.
#pragma once
#include "common/enum_names.h"

namespace xbar {

// The kind of matrix product an operator performs.
enum class OpClass { linear, conv, lm_head, attn_qk, attn_av };
// analog: crossbar emulation; digital: float, or integer-quantized at digital_bits.
enum class OpMode { analog, digital };
// prefill: whole sequences (and every non-generating model); decode: one token per call.
enum class Phase { prefill, decode };

template <>
struct EnumNames<OpClass> {
  static constexpr EnumName<OpClass> table[] = {{OpClass::linear, "linear"},   {OpClass::conv, "conv"},
                                                {OpClass::lm_head, "lm_head"}, {OpClass::attn_qk, "attn_qk"},
                                                {OpClass::attn_av, "attn_av"}};
};
template <>
struct EnumNames<OpMode> {
  static constexpr EnumName<OpMode> table[] = {{OpMode::analog, "analog"}, {OpMode::digital, "digital"}};
};
template <>
struct EnumNames<Phase> {
  static constexpr EnumName<Phase> table[] = {{Phase::prefill, "prefill"}, {Phase::decode, "decode"}};
};

// Products with a stored weight (linear, conv, lm_head), as opposed to activation products.
inline bool has_weights(OpClass c) { return c == OpClass::linear || c == OpClass::conv || c == OpClass::lm_head; }

}  // namespace xbar
