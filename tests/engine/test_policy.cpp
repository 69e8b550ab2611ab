// Policy parsing and resolution (no Torch): default config, [policy] mode, [[override]] rules by
// layer-name glob, operator class and phase applied in order, and errors that name the key.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "engine/policy.h"

using namespace xbar;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_policy(text, "p.toml");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

std::string field_of(const std::string& text) {
  try {
    parse_policy(text, "p.toml");
  } catch (const ConfigError& e) {
    return e.field();
  }
  return "<no ConfigError>";
}

const char* kLayered = R"(
[device]
model = "pcm"
[adc]
bits = 8
range = "worst_case"
[dac]
bits = 8

[[override]]            # 0: every linear (and lm_head) layer: 6-bit ADC
op = "linear"
[override.adc]
bits = 6

[[override]]            # 1: blocks.*.fc*: 7-bit ADC, 128-row tiles
match = "blocks.*.fc*"
[override.adc]
bits = 7
[override.mapping]
tile_rows = 128

[[override]]            # 2: decode phase: digital, 8-bit integers
phase = "decode"
mode = "digital"
digital_bits = 8

[[override]]            # 3: the head: 10-bit ADC
op = "lm_head"
[override.adc]
bits = 10

[[override]]            # 4: attention scores in prefill: 4-bit DAC
op = "attn_qk"
phase = "prefill"
[override.dac]
bits = 4
)";

}  // namespace

TEST_CASE("resolve applies the default, then every matching rule in file order (later rules win)") {
  const Policy p = parse_policy(kLayered, "layered.toml");
  REQUIRE(p.rules.size() == 5);
  CHECK(p.default_mode == "analog");
  CHECK(p.default_digital_bits == 0);

  const ResolvedOp a = resolve(p, "embed_proj", "linear", "prefill");
  CHECK(a.rules == std::vector<size_t>{0});
  CHECK(a.cfg.adc.bits == 6);
  CHECK(a.cfg.adc.range == AdcRange::worst_case);  // untouched keys keep the default
  CHECK(a.cfg.device.model == DeviceKind::pcm);
  CHECK(a.cfg.dac.bits == 8);
  CHECK(a.mode == "analog");

  const ResolvedOp b = resolve(p, "blocks.3.fc2", "linear", "prefill");
  CHECK(b.rules == std::vector<size_t>{0, 1});
  CHECK(b.cfg.adc.bits == 7);  // rule 1 after rule 0
  CHECK(b.cfg.mapping.tile_rows == 128);

  const ResolvedOp c = resolve(p, "blocks.3.fc2", "linear", "decode");
  CHECK(c.rules == std::vector<size_t>{0, 1, 2});
  CHECK(c.mode == "digital");
  CHECK(c.digital_bits == 8);
  CHECK(c.cfg.adc.bits == 7);

  const ResolvedOp d = resolve(p, "blocks.3.attn.scores", "attn_qk", "prefill");
  CHECK(d.rules == std::vector<size_t>{4});
  CHECK(d.cfg.dac.bits == 4);
  CHECK(d.cfg.adc.bits == 8);
  const ResolvedOp e = resolve(p, "blocks.3.attn.scores", "attn_qk", "decode");
  CHECK(e.rules == std::vector<size_t>{2});
  CHECK(e.cfg.dac.bits == 8);

  // A conv layer named like the glob gets rule 1 (glob, any op) but not rule 0 (op = linear).
  const ResolvedOp f = resolve(p, "blocks.0.fc_conv", "conv", "prefill");
  CHECK(f.rules == std::vector<size_t>{1});
  // The glob is anchored: "blocks.*.fc*" does not match "model.blocks.0.fc1".
  CHECK(resolve(p, "model.blocks.0.fc1", "linear", "prefill").rules == std::vector<size_t>{0});
}

TEST_CASE("lm_head is a kind of linear: op = \"linear\" rules match it, op = \"lm_head\" rules match only it") {
  const Policy p = parse_policy(kLayered, "layered.toml");
  const ResolvedOp h = resolve(p, "lm_head", "lm_head", "prefill");
  CHECK(h.rules == std::vector<size_t>{0, 3});
  CHECK(h.cfg.adc.bits == 10);
  CHECK(resolve(p, "fc", "linear", "prefill").cfg.adc.bits == 6);
  // Rule order decides: with the lm_head rule first, the later op = linear rule overrides it.
  const Policy q = parse_policy(R"(
[[override]]
op = "lm_head"
[override.adc]
bits = 10
[[override]]
op = "linear"
[override.adc]
bits = 6
)",
                                "q.toml");
  CHECK(resolve(q, "lm_head", "lm_head", "prefill").cfg.adc.bits == 6);
  // attention classes are not linear.
  CHECK(resolve(q, "attn.scores", "attn_qk", "prefill").rules.empty());
}

TEST_CASE("[policy] sets the default mode and digital bits, rules switch them per operator") {
  const Policy p = parse_policy(R"(
[policy]
mode = "digital"
digital_bits = 6
[[override]]
match = "fc1"
mode = "analog"
[[override]]
match = "fc2"
digital_bits = 0
)",
                                "modes.toml");
  const ResolvedOp a = resolve(p, "fc0", "linear", "prefill");
  CHECK(a.mode == "digital");
  CHECK(a.digital_bits == 6);
  CHECK(resolve(p, "fc1", "linear", "prefill").mode == "analog");
  const ResolvedOp c = resolve(p, "fc2", "linear", "prefill");
  CHECK(c.mode == "digital");
  CHECK(c.digital_bits == 0);
  // An empty policy: analog, every config default.
  const Policy e = parse_policy("", "empty.toml");
  CHECK(e.rules.empty());
  CHECK(resolve(e, "x", "conv", "decode").mode == "analog");
  CHECK(resolve(e, "x", "conv", "decode").toml == to_toml(XbarConfig{}));
}

TEST_CASE("the resolved TOML text is the resolved config (what a layer state stores)") {
  const Policy p = parse_policy(kLayered, "layered.toml");
  const ResolvedOp r = resolve(p, "blocks.1.fc1", "linear", "decode");
  XbarConfig c;
  apply_toml_string(c, r.toml, "resolved");
  CHECK(to_toml(c) == r.toml);
  CHECK(c.adc.bits == 7);
  CHECK(c.mapping.tile_rows == 128);
  CHECK(c.device.model == DeviceKind::pcm);
}

TEST_CASE("the shipped policies parse, default.toml is the documented realistic chip") {
  const std::string dir = std::string(XBAR_SOURCE_DIR) + "/data/policies/";
  const Policy ideal = load_policy(dir + "ideal.toml");
  const ResolvedOp i = resolve(ideal, "fc", "linear", "prefill");
  CHECK(i.cfg.device.model == DeviceKind::ideal);
  CHECK(i.cfg.dac.bits == 0);
  CHECK(i.cfg.adc.bits == 0);
  CHECK(i.cfg.mapping.weight_bits == 0);
  CHECK(i.cfg.wires.r_row_ohm == 0);
  CHECK(i.cfg.wires.r_col_ohm == 0);
  CHECK(i.mode == "analog");
  const Policy def = load_policy(dir + "default.toml");
  const ResolvedOp d = resolve(def, "fc", "linear", "prefill");
  CHECK(d.cfg.device.model == DeviceKind::pcm);
  CHECK(d.cfg.dac.bits == 8);
  CHECK(d.cfg.adc.bits == 8);
  CHECK(d.cfg.mapping.tile_rows == 256);
  CHECK(d.cfg.mapping.tile_cols == 256);
  CHECK(resolve(def, "lm_head", "lm_head", "prefill").cfg.adc.bits == 10);
  CHECK(resolve(def, "blocks.0.attn.scores", "attn_qk", "decode").cfg.adc.bits == 8);
}

TEST_CASE("unknown keys are errors naming the key, with a did-you-mean") {
  std::string m = error_of("[policy]\nmdoe = \"analog\"\n");
  CHECK(field_of("[policy]\nmdoe = \"analog\"\n") == "policy.mdoe");
  CHECK(m.find("did you mean policy.mode") != std::string::npos);
  CHECK(m.find("p.toml") != std::string::npos);

  m = error_of("[[override]]\nmacth = \"fc1\"\n");
  CHECK(field_of("[[override]]\nmacth = \"fc1\"\n") == "override[0].macth");
  CHECK(m.find("did you mean match") != std::string::npos);

  m = error_of("[[override]]\nmatch = \"a\"\n[[override]]\nphse = \"decode\"\n");
  CHECK(m.find("override[1].phse") != std::string::npos);
  CHECK(m.find("did you mean phase") != std::string::npos);

  // Config keys: in the default sections and inside a rule's sub-tables.
  m = error_of("[adc]\nbitz = 4\n");
  CHECK(field_of("[adc]\nbitz = 4\n") == "adc.bitz");
  CHECK(m.find("did you mean adc.bits") != std::string::npos);
  m = error_of("[[override]]\nmatch = \"fc\"\n[override.dac]\nbitz = 4\n");
  CHECK(m.find("dac.bitz") != std::string::npos);
  CHECK(m.find("did you mean dac.bits") != std::string::npos);
  m = error_of("[[override]]\nmatch = \"fc\"\n[override.adcc]\nbits = 4\n");
  CHECK(m.find("did you mean adc") != std::string::npos);
}

TEST_CASE("bad values are ConfigErrors naming the key and the allowed values") {
  std::string m = error_of("[[override]]\nop = \"lienar\"\n");
  CHECK(field_of("[[override]]\nop = \"lienar\"\n") == "override[0].op");
  for (const auto& c : kOpClasses) CHECK(m.find(c) != std::string::npos);  // lists the classes
  CHECK(field_of("[[override]]\nphase = \"generate\"\n") == "override[0].phase");
  CHECK(field_of("[[override]]\nmode = \"mixed\"\n") == "override[0].mode");
  CHECK(field_of("[policy]\nmode = \"mixed\"\n") == "policy.mode");
  CHECK(field_of("[policy]\ndigital_bits = 1\n") == "policy.digital_bits");
  CHECK(field_of("[[override]]\ndigital_bits = 25\n") == "override[0].digital_bits");
  CHECK(field_of("[[override]]\ndigital_bits = \"8\"\n") == "override[0].digital_bits");
  CHECK(field_of("[[override]]\nmatch = 3\n") == "override[0].match");
  // Config values are validated in the default and in each rule (on top of the default).
  CHECK(field_of("[adc]\nbits = -1\n") == "adc.bits");
  CHECK(field_of("[[override]]\nmatch = \"fc2\"\n[override.adc]\nbits = -1\n") == "adc.bits");
  CHECK(field_of("[device]\ng_min_uS = 10.0\n[[override]]\n[override.device]\ng_max_uS = 5.0\n") != "<no ConfigError>");
  CHECK(field_of("policy = 3\n") == "policy");
  CHECK(field_of("[override]\nmatch = \"x\"\n") == "override");
  // Good values do not throw.
  CHECK(field_of("[[override]]\nop = \"attn_av\"\nphase = \"decode\"\nmode = \"digital\"\ndigital_bits = 4\n") ==
        "<no ConfigError>");
}

TEST_CASE("TOML syntax errors and missing files are FileErrors naming file and line") {
  CHECK_THROWS_WITH_AS(parse_policy("[adc\nbits = 3\n", "broken.toml"), doctest::Contains("broken.toml:1"), FileError);
  CHECK_THROWS_AS(load_policy("/nonexistent/dir/policy.toml"), FileError);
  const std::string path = "/tmp/xbar_test_policy_" + std::to_string(::getpid()) + ".toml";
  {
    std::ofstream f(path);
    f << "[adc]\nbits = 5\n\n[[override]]\nmatch = \"x\"\nop = \"convv\"\n";
  }
  try {
    load_policy(path);
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.field() == "override[0].op");
    CHECK(std::string(e.what()).find("convv") != std::string::npos);
  }
  std::remove(path.c_str());
}
