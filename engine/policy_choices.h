// The typed choices of a policy: operator class, mode and phase. Each enum has one name table
// (NameTable<E>); the names are the text of policy files, layer-state pickles and reports.
#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace xbar {

// The kind of matrix product an operator performs.
enum class OpClass { linear, conv, lm_head, attn_qk, attn_av };
// analog: crossbar emulation; digital: float, or integer-quantized at digital_bits.
enum class OpMode { analog, digital };
// prefill: whole sequences (and every non-generating model); decode: one token per call.
enum class Phase { prefill, decode };

template <class E>
struct NameTable;  // static constexpr std::array<std::pair<E, const char*>, N> entries

template <>
struct NameTable<OpClass> {
  static constexpr std::array<std::pair<OpClass, const char*>, 5> entries = {{{OpClass::linear, "linear"},
                                                                              {OpClass::conv, "conv"},
                                                                              {OpClass::lm_head, "lm_head"},
                                                                              {OpClass::attn_qk, "attn_qk"},
                                                                              {OpClass::attn_av, "attn_av"}}};
};
template <>
struct NameTable<OpMode> {
  static constexpr std::array<std::pair<OpMode, const char*>, 2> entries = {
      {{OpMode::analog, "analog"}, {OpMode::digital, "digital"}}};
};
template <>
struct NameTable<Phase> {
  static constexpr std::array<std::pair<Phase, const char*>, 2> entries = {
      {{Phase::prefill, "prefill"}, {Phase::decode, "decode"}}};
};

template <class E>
std::string name_of(E e) {
  for (const auto& [v, n] : NameTable<E>::entries)
    if (v == e) return n;
  return "?";
}

template <class E>
std::vector<E> all_of() {
  std::vector<E> out;
  for (const auto& [v, n] : NameTable<E>::entries) out.push_back(v);
  return out;
}

// The enumerator named `text`; ConfigError naming `field`, the value and every allowed name.
template <class E>
E parse_name(const std::string& field, const std::string& text) {
  std::string all;
  for (const auto& [v, n] : NameTable<E>::entries) {
    if (text == n) return v;
    all += (all.empty() ? "" : ", ") + std::string(n);
  }
  throw ConfigError(field, "\"" + text + "\"", "must be one of: " + all);
}

// Products with a stored weight (linear, conv, lm_head), as opposed to activation products.
inline bool has_weights(OpClass c) { return c == OpClass::linear || c == OpClass::conv || c == OpClass::lm_head; }

}  // namespace xbar
