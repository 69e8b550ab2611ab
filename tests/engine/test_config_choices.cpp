// Typed choices (enum fields with one name table) and the per-model device sections, through
// every path a key takes: TOML, --set, policy overrides, --help and flatten.
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include "engine/config.h"
#include "engine/policy.h"

using namespace xbar;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// A valid non-default value for a numeric device field: 0.9 x the default, or 0.01 for a zero default.
template <class S>
std::string changed_value(const Field<S>& f) {
  const double d = std::stod(field_string(S{}, f));
  return format_double(d == 0 ? 0.01 : 0.9 * d);
}

// Sets every key of the section S of model `model` by TOML, --set and a policy override and checks
// that the value arrives in the struct.
template <class S>
void check_section_keys(const char* model, S DeviceConfig::*member) {
  for (const auto& f : S::fields()) {
    const std::string v = changed_value(f), dotted = std::string(S::section()) + "." + f.key;
    CAPTURE(dotted);
    CAPTURE(v);
    XbarConfig a;
    set_key(a, "device.model", model);
    set_key(a, dotted, v);
    CHECK(field_string(a.device.*member, f) == v);
    CHECK_NOTHROW(a.validate());

    XbarConfig b;
    apply_toml_string(b, std::string("[device]\nmodel = \"") + model + "\"\n[" + S::section() + "]\n" + f.key + " = " + v + "\n");
    CHECK(field_string(b.device.*member, f) == v);

    const Policy p = parse_policy(std::string("[device]\nmodel = \"") + model + "\"\n[[override]]\nmatch = \"fc*\"\n[override." +
                                      S::section() + "]\n" + f.key + " = " + v + "\n",
                                  "<policy>");
    const ResolvedOp hit = resolve(p, "fc1", OpClass::linear, Phase::prefill),
                    miss = resolve(p, "conv1", OpClass::conv, Phase::prefill);
    CHECK(field_string(hit.cfg.device.*member, f) == v);
    CHECK(field_string(miss.cfg.device.*member, f) == field_string(S{}, f));
    CHECK(contains(to_toml(hit.cfg), "[" + std::string(S::section()) + "]"));
  }
}
}  // namespace

TEST_CASE("enum fields round-trip TOML -> struct -> TOML with their names") {
  XbarConfig a;
  a.mapping.mapping = SignedMapping::offset;
  a.mapping.scale = WeightScale::column;
  a.dac.range = DacRange::static_;
  a.adc.range = AdcRange::calibrated;
  a.drift_compensation.mode = DriftCompensationMode::global;
  a.drift_compensation.reference = DriftReference::ones;
  a.device.model = DeviceKind::rram;
  const std::string text = to_toml(a);
  for (const char* line : {"mapping = 'offset'", "scale = 'column'", "range = 'static'", "range = 'calibrated'",
                           "mode = 'global'", "reference = 'ones'", "model = 'rram'"})
    CHECK_MESSAGE(contains(text, line), line);
  XbarConfig b;
  apply_toml_string(b, text);
  CHECK(b.mapping.mapping == SignedMapping::offset);
  CHECK(b.mapping.scale == WeightScale::column);
  CHECK(b.dac.range == DacRange::static_);
  CHECK(b.adc.range == AdcRange::calibrated);
  CHECK(b.drift_compensation.mode == DriftCompensationMode::global);
  CHECK(b.drift_compensation.reference == DriftReference::ones);
  CHECK(b.device.model == DeviceKind::rram);
  CHECK(to_toml(b) == text);
  // Flattened values (HDF5 attributes, results files) are the same names.
  bool seen = false;
  for (const auto& [k, v] : flatten(b))
    if (k == "adc.range") {
      seen = true;
      CHECK(v == "calibrated");
    }
  CHECK(seen);
}

TEST_CASE("--set with an unknown choice names the key, the value and the allowed names") {
  XbarConfig c;
  const std::string e = error_of([&] { set_assignment(c, "adc.range=calibrate"); });
  CHECK(contains(e, "adc.range = \"calibrate\""));
  CHECK(contains(e, "must be one of: worst_case, fixed, calibrated"));
  CHECK(contains(e, "did you mean calibrated?"));
  CHECK(c.adc.range == AdcRange::worst_case);
  CHECK(contains(error_of([&] { apply_toml_string(c, "[device]\nmodel = 3\n"); }),
                 "expected one of: ideal, pcm, rram, normal, file"));
  CHECK(contains(error_of([&] { set_key(c, "mapping.mapping", "Offset"); }), "differential, offset"));
}

TEST_CASE("--help lists the choices of every enum field and every device section") {
  const std::string h = config_help();
  CHECK(contains(h, "one of differential offset"));
  CHECK(contains(h, "one of tile column"));
  CHECK(contains(h, "(default absmax; one of absmax static)"));
  CHECK(contains(h, "(default worst_case; one of worst_case fixed calibrated)"));
  CHECK(contains(h, "one of none global column"));
  CHECK(contains(h, "one of identity ones"));
  CHECK(contains(h, "(default ideal; one of ideal pcm rram normal file)"));
  for (const char* s : {"[device.normal]\n", "[device.pcm]\n", "[device.rram]\n", "  device.pcm.t0_s [s]",
                        "  device.normal.read_sigma_rel", "  device.rram.read_sigma_rel"})
    CHECK_MESSAGE(contains(h, s), s);
}

TEST_CASE("every device-section key is settable by TOML, --set and a policy override") {
  check_section_keys("normal", &DeviceConfig::normal);
  check_section_keys("pcm", &DeviceConfig::pcm);
  check_section_keys("rram", &DeviceConfig::rram);
}

TEST_CASE("a changed key of a model other than the chosen one is an error naming it") {
  XbarConfig c;
  set_key(c, "device.model", "pcm");
  set_key(c, "device.normal.read_sigma_uS", "0.5");
  const std::string e = error_of([&] { c.validate(); });
  CHECK(contains(e, "device.normal.read_sigma_uS = 0.5: is set but device.model = pcm (it applies to model = normal)"));
  set_key(c, "device.normal.read_sigma_uS", "0");  // back at its default: accepted
  CHECK_NOTHROW(c.validate());
  set_key(c, "device.model", "ideal");
  set_key(c, "device.pcm.t0_s", "30");
  CHECK(contains(error_of([&] { c.validate(); }), "device.pcm.t0_s = 30: is set but device.model = ideal"));
  XbarConfig d;
  CHECK(contains(error_of([&] { apply_toml_string(d, "[device]\nmodel = \"rram\"\n[device.pcm]\nnu_mean_min = 0.03\n");
                                 d.validate(); }),
                 "device.pcm.nu_mean_min = 0.03: is set but device.model = rram (it applies to model = pcm)"));
  CHECK(contains(error_of([&] { parse_policy("[device]\nmodel = \"pcm\"\n[device.rram]\nread_sigma_rel = 0.5\n", "p.toml"); }),
                 "device.rram.read_sigma_rel"));
  CHECK(contains(error_of([&] { set_key(d, "device.pcm.t0", "3"); }), "did you mean device.pcm.t0_s?"));
  CHECK(contains(error_of([&] { set_key(d, "device.pcn.t0_s", "3"); }), "unknown section"));
}

TEST_CASE("the flat normal-model keys of saved models and results files still read") {
  XbarConfig c;
  apply_toml_string(c, "[device]\nmodel = \"normal\"\nprog_sigma_uS = 0.5\ndrift_nu = 0.02\nt0_s = 20.0\n");
  CHECK(c.device.normal.prog_sigma_uS == 0.5);
  CHECK(c.device.normal.drift_nu == 0.02);
  set_key(c, "device.read_sigma_rel", "0.03");
  CHECK(c.device.normal.read_sigma_rel == 0.03);
  // They are written back under their sections only.
  const std::string t = to_toml(c);
  CHECK(contains(t, "[device.normal]"));
  for (const auto& [k, v] : flatten(c)) CHECK(k != "device.t0_s");
}
