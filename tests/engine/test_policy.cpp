// Policy parsing and resolution (no Torch): default config, [policy] mode, [[override]] rules by
// layer-name glob, operator class and phase applied in order, and errors that name the key.
#include <doctest/doctest.h>

#include <fnmatch.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <toml++/toml.h>

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
  CHECK(p.default_mode == OpMode::analog);
  CHECK(p.default_digital_bits == 0);

  const ResolvedOp a = resolve(p, "embed_proj", OpClass::linear, Phase::prefill);
  CHECK(a.rules == std::vector<size_t>{0});
  CHECK(a.cfg.adc.bits == 6);
  CHECK(a.cfg.adc.range == AdcRange::worst_case);  // untouched keys keep the default
  CHECK(a.cfg.device.model == DeviceKind::pcm);
  CHECK(a.cfg.dac.bits == 8);
  CHECK(a.mode == OpMode::analog);

  const ResolvedOp b = resolve(p, "blocks.3.fc2", OpClass::linear, Phase::prefill);
  CHECK(b.rules == std::vector<size_t>{0, 1});
  CHECK(b.cfg.adc.bits == 7);  // rule 1 after rule 0
  CHECK(b.cfg.mapping.tile_rows == 128);

  const ResolvedOp c = resolve(p, "blocks.3.fc2", OpClass::linear, Phase::decode);
  CHECK(c.rules == std::vector<size_t>{0, 1, 2});
  CHECK(c.mode == OpMode::digital);
  CHECK(c.digital_bits == 8);
  CHECK(c.cfg.adc.bits == 7);

  const ResolvedOp d = resolve(p, "blocks.3.attn.scores", OpClass::attn_qk, Phase::prefill);
  CHECK(d.rules == std::vector<size_t>{4});
  CHECK(d.cfg.dac.bits == 4);
  CHECK(d.cfg.adc.bits == 8);
  const ResolvedOp e = resolve(p, "blocks.3.attn.scores", OpClass::attn_qk, Phase::decode);
  CHECK(e.rules == std::vector<size_t>{2});
  CHECK(e.cfg.dac.bits == 8);

  // A conv layer named like the glob gets rule 1 (glob, any op) but not rule 0 (op = linear).
  const ResolvedOp f = resolve(p, "blocks.0.fc_conv", OpClass::conv, Phase::prefill);
  CHECK(f.rules == std::vector<size_t>{1});
  // The glob is anchored: "blocks.*.fc*" does not match "model.blocks.0.fc1".
  CHECK(resolve(p, "model.blocks.0.fc1", OpClass::linear, Phase::prefill).rules == std::vector<size_t>{0});
}

TEST_CASE("lm_head is a kind of linear: op = \"linear\" rules match it, op = \"lm_head\" rules match only it") {
  const Policy p = parse_policy(kLayered, "layered.toml");
  const ResolvedOp h = resolve(p, "lm_head", OpClass::lm_head, Phase::prefill);
  CHECK(h.rules == std::vector<size_t>{0, 3});
  CHECK(h.cfg.adc.bits == 10);
  CHECK(resolve(p, "fc", OpClass::linear, Phase::prefill).cfg.adc.bits == 6);
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
  CHECK(resolve(q, "lm_head", OpClass::lm_head, Phase::prefill).cfg.adc.bits == 6);
  // attention classes are not linear.
  CHECK(resolve(q, "attn.scores", OpClass::attn_qk, Phase::prefill).rules.empty());
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
  const ResolvedOp a = resolve(p, "fc0", OpClass::linear, Phase::prefill);
  CHECK(a.mode == OpMode::digital);
  CHECK(a.digital_bits == 6);
  CHECK(resolve(p, "fc1", OpClass::linear, Phase::prefill).mode == OpMode::analog);
  const ResolvedOp c = resolve(p, "fc2", OpClass::linear, Phase::prefill);
  CHECK(c.mode == OpMode::digital);
  CHECK(c.digital_bits == 0);
  // An empty policy: analog, every config default.
  const Policy e = parse_policy("", "empty.toml");
  CHECK(e.rules.empty());
  CHECK(resolve(e, "x", OpClass::conv, Phase::decode).mode == OpMode::analog);
  CHECK(same_config(resolve(e, "x", OpClass::conv, Phase::decode).cfg, XbarConfig{}));
}

TEST_CASE("glob_literal: a rule for a layer whose name holds glob characters matches that layer only") {
  // Layer names with every metacharacter fnmatch knows; each literal rule, written to TOML and read
  // back, must select its own layer and none of the others (the unescaped names, as globs, hit
  // several: "blk[0]*" would match "blk0x" and "blk0*", "a?" matches "ab").
  const std::vector<std::string> names = {"blk[0]*", "blk0x", "blk0*", "a?", "ab", "a\\b", "a\\\\b", "x]"};
  for (const auto& target : names) {
    Policy p;
    PolicyRule r;
    r.match = glob_literal(target);
    r.assignments.push_back({"adc.bits", FieldValue(int64_t(5))});
    p.rules.push_back(r);
    const Policy q = parse_policy(policy_to_toml(p), "literal.toml");
    for (const auto& n : names)
      CHECK_MESSAGE(resolve(q, n, OpClass::linear, Phase::prefill).rules.empty() == (n != target),
                    "rule for '" << target << "' on layer '" << n << "'");
  }
  CHECK(fnmatch("blk[0]*", "blk0x", 0) == 0);  // the unescaped name is a glob that hits another layer
}

TEST_CASE("the resolved config survives its TOML text (what a layer state stores)") {
  const Policy p = parse_policy(kLayered, "layered.toml");
  const ResolvedOp r = resolve(p, "blocks.1.fc1", OpClass::linear, Phase::decode);
  XbarConfig c;
  apply_toml_string(c, to_toml(r.cfg), "resolved");
  CHECK(same_config(c, r.cfg));
  CHECK(to_toml(c) == to_toml(r.cfg));
  CHECK(c.adc.bits == 7);
  CHECK(c.mapping.tile_rows == 128);
  CHECK(c.device.model == DeviceKind::pcm);
}

TEST_CASE("the shipped policies parse, default.toml is the documented realistic chip") {
  const std::string dir = std::string(XBAR_SOURCE_DIR) + "/data/policies/";
  const Policy ideal = load_policy(dir + "ideal.toml");
  const ResolvedOp i = resolve(ideal, "fc", OpClass::linear, Phase::prefill);
  CHECK(i.cfg.device.model == DeviceKind::ideal);
  CHECK(i.cfg.dac.bits == 0);
  CHECK(i.cfg.adc.bits == 0);
  CHECK(i.cfg.mapping.weight_bits == 0);
  CHECK(i.cfg.wires.r_row_ohm == 0);
  CHECK(i.cfg.wires.r_col_ohm == 0);
  CHECK(i.mode == OpMode::analog);
  const Policy def = load_policy(dir + "default.toml");
  const ResolvedOp d = resolve(def, "fc", OpClass::linear, Phase::prefill);
  CHECK(d.cfg.device.model == DeviceKind::pcm);
  CHECK(d.cfg.dac.bits == 8);
  CHECK(d.cfg.adc.bits == 8);
  CHECK(d.cfg.mapping.tile_rows == 256);
  CHECK(d.cfg.mapping.tile_cols == 256);
  CHECK(resolve(def, "lm_head", OpClass::lm_head, Phase::prefill).cfg.adc.bits == 10);
  CHECK(resolve(def, "blocks.0.attn.scores", OpClass::attn_qk, Phase::decode).cfg.adc.bits == 8);
  // pcm_bitserial.toml is the default chip with one input bit per array read, nothing else changed.
  const Policy bs = load_policy(dir + "pcm_bitserial.toml");
  for (const auto& [name, op] : std::vector<std::pair<std::string, OpClass>>{
           {"fc", OpClass::linear}, {"conv1", OpClass::conv}, {"lm_head", OpClass::lm_head}, {"s", OpClass::attn_qk}}) {
    XbarConfig expect = resolve(def, name, op, Phase::prefill).cfg;
    expect.dac.slice_bits = 1;
    CHECK_MESSAGE(to_toml(resolve(bs, name, op, Phase::prefill).cfg) == to_toml(expect), name);
  }
  CHECK(resolve(bs, "fc", OpClass::linear, Phase::prefill).cfg.dac.slices() == 7);  // 8-bit signed: 7 magnitude bits
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
  for (const auto c : enum_values<OpClass>()) CHECK(m.find(enum_string(c)) != std::string::npos);  // lists the classes
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

namespace {

// The TOML-text resolution, written independently of engine/policy.cpp: the default sections and
// each matching rule's sections re-serialised by toml++ and read by apply_toml_string, in order.
XbarConfig resolve_by_text(const std::string& text, const std::string& name, const std::string& op,
                           const std::string& phase) {
  const toml::table root = toml::parse(text);
  auto sections = [](const toml::table& t) {
    toml::table out;
    for (const auto& [k, v] : t)
      if (v.is_table()) out.insert(k, v);
    std::ostringstream os;
    os << out;
    return os.str();
  };
  toml::table defaults;
  for (const auto& [k, v] : root)
    if (k.str() != "policy" && k.str() != "override") defaults.insert(k, v);
  XbarConfig c;
  apply_toml_string(c, sections(defaults));
  if (const toml::array* rules = root["override"].as_array())
    for (const auto& n : *rules) {
      const toml::table& t = *n.as_table();
      const std::string rop = t["op"].value_or(std::string()), rphase = t["phase"].value_or(std::string());
      if (fnmatch(t["match"].value_or(std::string("*")).c_str(), name.c_str(), 0) != 0) continue;
      if (!rop.empty() && rop != op && !(rop == "linear" && op == "lm_head")) continue;
      if (!rphase.empty() && rphase != phase) continue;
      apply_toml_string(c, sections(t));
    }
  return c;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

const std::vector<std::string> kShipped = {"default.toml", "ideal.toml", "pcm_adc6.toml", "prop03_adc6.toml", "isaac.toml", "neurram.toml", "pcm_bitserial.toml"};

// Rules of every kind: glob, each op class, each phase, both modes, float and integer digital
// bits, integer and float values for a float key, strings, booleans, several sections.
const char* kEveryKind = R"(
[policy]
mode = "digital"
digital_bits = 8
[device]
model = "pcm"
[dac]
static_range = 2
[[override]]
match = "blocks.*"
op = "linear"
mode = "analog"
[override.adc]
bits = 6
range = "calibrated"
[override.wires]
r_row_ohm = 2.5
[[override]]
op = "conv"
phase = "prefill"
digital_bits = 0
[[override]]
op = "lm_head"
[override.dac]
is_signed = false
static_range = 1.5
[[override]]
op = "attn_qk"
phase = "decode"
mode = "digital"
digital_bits = 4
[[override]]
op = "attn_av"
[override.run]
t_inference_s = 86400
)";

}  // namespace

TEST_CASE("resolve on structs gives the config of the TOML-text resolution (shipped and layered policies)") {
  const std::string dir = std::string(XBAR_SOURCE_DIR) + "/data/policies/";
  std::vector<std::pair<std::string, std::string>> policies = {{"layered", kLayered}, {"every_kind", kEveryKind}};
  for (const auto& f : kShipped) policies.emplace_back(f, slurp(dir + f));
  int compared = 0;
  for (const auto& [src, text] : policies) {
    const Policy p = parse_policy(text, src);
    for (const char* name : {"fc", "blocks.3.fc2", "lm_head", "head", "blocks.0.attn.scores", "conv1"})
      for (const auto op : enum_values<OpClass>())
        for (const auto phase : enum_values<Phase>()) {
          const XbarConfig want = resolve_by_text(text, name, enum_string(op), enum_string(phase));
          const ResolvedOp got = resolve(p, name, op, phase);
          INFO(src << " " << name << " " << enum_string(op) << " " << enum_string(phase));
          CHECK(flatten(got.cfg) == flatten(want));
          CHECK(same_config(got.cfg, want));
          ++compared;
        }
  }
  CHECK(compared == int(policies.size()) * 6 * 5 * 2);
  // The comparison can fail: a changed key is seen.
  XbarConfig other = resolve(parse_policy(kLayered, "l"), "fc", OpClass::linear, Phase::prefill).cfg;
  other.adc.bits += 1;
  CHECK(flatten(other) != flatten(resolve_by_text(kLayered, "fc", "linear", "prefill")));
}

TEST_CASE("policy_to_toml reads back to the same policy (shipped policies, rules of every kind)") {
  const std::string dir = std::string(XBAR_SOURCE_DIR) + "/data/policies/";
  std::vector<Policy> policies = {parse_policy(kLayered, "layered.toml"), parse_policy(kEveryKind, "every_kind.toml")};
  for (const auto& f : kShipped) policies.push_back(load_policy(dir + f));
  // Built in code, as HWA export does: a typed float value and a literal match.
  Policy built;
  built.defaults.adc.bits = 7;
  PolicyRule r;
  r.match = "blocks.0.fc\\[1\\]";
  r.assignments = {{"dac.range", std::string("static")}, {"dac.static_range", 0.1 + 0.2}};
  built.rules.push_back(r);
  policies.push_back(built);
  for (const auto& p : policies) {
    INFO(p.source);
    const std::string text = policy_to_toml(p);
    const Policy back = parse_policy(text, p.source);
    CHECK(back == p);
    CHECK(policy_to_toml(back) == text);
  }
  CHECK(parse_policy(policy_to_toml(built), "b").rules[0].assignments[1].value == FieldValue(0.1 + 0.2));  // exact
  const Policy every = parse_policy(kEveryKind, "e");
  REQUIRE(every.rules.size() == 5);
  CHECK(every.default_mode == OpMode::digital);
  CHECK(every.rules[1].digital_bits == 0);
  CHECK(every.rules[3].mode == OpMode::digital);
  CHECK(every.rules[2].op == OpClass::lm_head);
  CHECK(every.rules[4].phase == std::nullopt);
  // Equality sees a changed value.
  Policy changed = every;
  changed.rules[0].assignments[0].value = int64_t(7);
  CHECK_FALSE(changed == every);
}

TEST_CASE("apply_assignments: values converted per field type, errors name the key") {
  XbarConfig c;
  apply_assignments(c, {{"adc.bits", int64_t(6)}, {"wires.r_row_ohm", std::string("2.5")}, {"dac.is_signed", false},
                        {"run.t_inference_s", int64_t(3600)}});
  CHECK(c.adc.bits == 6);
  CHECK(c.wires.r_row_ohm == 2.5);
  CHECK_FALSE(c.dac.is_signed);
  CHECK(c.run.t_inference_s == 3600.0);
  auto field = [](const Assignments& a) {
    XbarConfig x;
    try {
      apply_assignments(x, a, "rule 3");
    } catch (const ConfigError& e) {
      return e.field() + " | " + e.what();
    }
    return std::string("<no ConfigError>");
  };
  CHECK(field({{"adc.bitz", int64_t(3)}}).find("adc.bitz | ") == 0);
  CHECK(field({{"adc.bitz", int64_t(3)}}).find("did you mean adc.bits") != std::string::npos);
  CHECK(field({{"adc.bitz", int64_t(3)}}).find("(in rule 3)") != std::string::npos);
  CHECK(field({{"adcc.bits", int64_t(3)}}).find("adcc.bits | ") == 0);
  CHECK(field({{"adc.bits", std::string("six")}}).find("adc.bits | ") == 0);
  CHECK(field({{"adc.range", int64_t(3)}}).find("adc.range | ") == 0);
  CHECK(field({{"bits", int64_t(3)}}).find("bits | ") == 0);
  // config_assignments lists every key: applied to the defaults it rebuilds the config.
  XbarConfig d;
  apply_assignments(d, config_assignments(c));
  CHECK(same_config(c, d));
  CHECK(config_assignments(c).size() == flatten(c).size());
  CHECK_THROWS_WITH_AS(parse_assignment("adc.bits"), doctest::Contains("section.key=value"), ConfigError);
  CHECK(parse_assignment("adc.bits=6") == Assignment{"adc.bits", std::string("6")});
}

TEST_CASE("every TOML syntax error is a FileError \"SOURCE:LINE:COLUMN: description\"") {
  const std::regex shape(R"(^(\S+):(\d+):(\d+): \S.*)");
  auto check_shape = [&](const std::function<void()>& f, const std::string& source, int line) {
    try {
      f();
      FAIL("no error");
    } catch (const FileError& e) {
      std::smatch m;
      const std::string msg = e.what();
      INFO(msg);
      REQUIRE(std::regex_match(msg, m, shape));
      CHECK(m[1] == source);
      CHECK(std::stoi(m[2]) == line);
    }
  };
  XbarConfig c;
  check_shape([&] { apply_toml_string(c, "[adc]\nbits = = 3\n", "cfg.toml"); }, "cfg.toml", 2);
  check_shape([&] { parse_policy("[adc]\nbits = 3\n\n[[override]\n", "pol.toml"); }, "pol.toml", 4);
  const std::string path = "/tmp/xbar_test_toml_error_" + std::to_string(::getpid()) + ".toml";
  std::ofstream(path) << "[run]\nseed = 1\nseed = 2\n";
  check_shape([&] { apply_toml_file(c, path); }, path, 3);
  check_shape([&] { load_policy(path); }, path, 3);
  std::remove(path.c_str());
}
