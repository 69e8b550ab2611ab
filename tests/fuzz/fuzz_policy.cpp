// libFuzzer target: policy text -> parse_policy, then resolve for every operator class and phase
// (engine/policy.cpp). resolve() must accept whatever parse_policy accepted.
#include <string>

#include "common/error.h"
#include "engine/policy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  xbar::Policy p;
  try {
    p = xbar::parse_policy(text, "fuzz_policy.toml");
  } catch (const xbar::Error&) {
    return 0;
  }
  // Rules are checked one at a time against the default; several matching together may still
  // conflict (e.g. two ranges), so resolve may throw a ConfigError, but nothing else.
  for (const char* name : {"blocks.0.attn.qkv", "head", ""})
    for (const auto op : xbar::enum_values<xbar::OpClass>())
      for (const auto phase : xbar::enum_values<xbar::Phase>()) {
        try {
          xbar::resolve(p, name, op, phase);
        } catch (const xbar::ConfigError&) {
        }
      }
  return 0;
}
