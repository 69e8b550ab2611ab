// libFuzzer target: TOML config text -> apply_toml_string + validate (engine/config.cpp).
// Property: an accepted config written back with to_toml reads back to the same config.
#include <string>

#include "common/error.h"
#include "engine/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  xbar::XbarConfig cfg;
  try {
    xbar::apply_toml_string(cfg, text, "fuzz.toml");
    cfg.validate();
  } catch (const xbar::Error&) {
    return 0;
  }
  const std::string out = xbar::to_toml(cfg);
  xbar::XbarConfig back;
  try {
    xbar::apply_toml_string(back, out, "to_toml");
    back.validate();
  } catch (const xbar::Error& e) {
    std::fprintf(stderr, "%s\n%s\n", e.what(), out.c_str());
    xbar::fuzz::require(false, "to_toml of a valid config is rejected");
  }
  xbar::fuzz::require(xbar::to_toml(back) == out, "to_toml round trip changed the config");
  return 0;
}
