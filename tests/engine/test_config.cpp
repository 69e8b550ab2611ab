#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include "engine/config.h"

using namespace xbar;

TEST_CASE("TOML sections set the stage configs") {
  XbarConfig c;
  apply_toml_string(c, R"(
[adc]
bits = 6
range = "calibrated"
[device]
model = "pcm"
g_max_uS = 30.0
[mapping]
tile_rows = 128
weight_bits = 8
[run]
seed = 11
t_inference_s = 3600
)");
  CHECK(c.adc.bits == 6);
  CHECK(c.adc.range == AdcRange::calibrated);
  CHECK(c.device.model == DeviceKind::pcm);
  CHECK(c.device.g_max_uS == 30.0);
  CHECK(c.mapping.tile_rows == 128);
  CHECK(c.run.seed == 11);
  CHECK(c.run.t_inference_s == 3600.0);  // integer TOML value into a double field
  CHECK_NOTHROW(c.validate());
}

TEST_CASE("unknown TOML keys and sections are errors with a suggestion") {
  XbarConfig c;
  CHECK_THROWS_WITH_AS(apply_toml_string(c, "[adc]\nbitz = 6\n"), doctest::Contains("did you mean adc.bits"), ConfigError);
  CHECK_THROWS_WITH_AS(apply_toml_string(c, "[adcc]\nbits = 6\n"), doctest::Contains("did you mean adc"), ConfigError);
  CHECK_THROWS_WITH_AS(apply_toml_string(c, "bits = 6\n"), doctest::Contains("[section]"), ConfigError);
  CHECK_THROWS_WITH_AS(apply_toml_string(c, "[adc]\nbits = \"six\"\n"), doctest::Contains("adc.bits"), ConfigError);
  CHECK_THROWS_WITH_AS(apply_toml_string(c, "[adc\nbits = 6\n", "bad.toml"), doctest::Contains("bad.toml:1"), FileError);
}

TEST_CASE("--set overrides parse per field and validate names field and value") {
  XbarConfig c;
  set_key(c, "dac.bits", "8");
  set_key(c, "wires.r_row_ohm", "2.5");
  set_key(c, "dac.is_signed", "false");
  CHECK(c.dac.bits == 8);
  CHECK(c.wires.r_row_ohm == 2.5);
  CHECK_FALSE(c.dac.is_signed);
  CHECK_THROWS_WITH_AS(set_key(c, "bits", "8"), doctest::Contains("section.key"), ConfigError);
  set_key(c, "adc.bits", "0");
  set_key(c, "mapping.tile_rows", "0");
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("mapping.tile_rows = 0"), ConfigError);
  c = XbarConfig{};
  set_key(c, "device.g_min_uS", "30");
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("device.g_min_uS = 30"), ConfigError);
  c = XbarConfig{};
  set_key(c, "wires.r_col_ohm", "-1");
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("wires.r_col_ohm = -1"), ConfigError);
  c = XbarConfig{};
  set_key(c, "device.stuck_at_gmax_rate", "nan");
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("device.stuck_at_gmax_rate"), ConfigError);
}

TEST_CASE("to_toml writes every key and reads back to the same config") {
  XbarConfig a;
  a.adc.bits = 5;
  a.device.model = DeviceKind::rram;
  a.device.g_max_uS = 0.1 + 0.2;  // not exactly representable in short decimal
  a.dac.is_signed = false;
  a.run.seed = 99;
  XbarConfig b;
  apply_toml_string(b, to_toml(a));
  CHECK(flatten(a) == flatten(b));
  CHECK(b.device.g_max_uS == a.device.g_max_uS);
}

TEST_CASE("help documents every key with its default") {
  const std::string h = config_help();
  XbarConfig c;
  for (const auto& [k, v] : flatten(c)) CHECK_MESSAGE(h.find("  " + k) != std::string::npos, k);
  CHECK(h.find("adc.bits [bit]") != std::string::npos);
  CHECK(h.find("wires.r_row_ohm [ohm]") != std::string::npos);
}

TEST_CASE("missing or malformed TOML files name the file") {
  XbarConfig c;
  CHECK_THROWS_WITH_AS(apply_toml_file(c, "/nonexistent/x.toml"), doctest::Contains("/nonexistent/x.toml"), FileError);
  const std::string p = "/tmp/xbar_test_bad_config.toml";
  std::ofstream(p) << "[adc]\nbits = = 3\n";
  CHECK_THROWS_WITH_AS(apply_toml_file(c, p), doctest::Contains((p + ":2:").c_str()), FileError);
  std::remove(p.c_str());
}
