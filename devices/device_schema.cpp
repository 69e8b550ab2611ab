#include "devices/device_schema.h"

#include <sstream>

namespace xbar::device_schema {

namespace {

using T = DeviceTables;

bool always(const T&) { return true; }
bool timed(const T& t) { return t.read_time_model != "none"; }
bool pcm_1f(const T& t) { return t.read_time_model == "pcm_1f"; }
bool power(const T& t) { return t.read_time_model == "power"; }

// Accessors of one DeviceTables member; an empty text or table is absent (not written).
template <std::string T::*M>
Value text(const T& t) {
  return (t.*M).empty() ? Value() : Value(t.*M);
}
template <std::string T::*M>
void set_text(T& t, const Value& v) {
  t.*M = std::get<std::string>(v);
}
template <double T::*M>
Value real(const T& t) {
  return t.*M;
}
template <double T::*M>
void set_real(T& t, const Value& v) {
  t.*M = std::get<double>(v);
}
template <std::vector<double> T::*M>
Value vec(const T& t) {
  return (t.*M).empty() ? Value() : Value(t.*M);
}
template <std::vector<double> T::*M>
void set_vec(T& t, const Value& v) {
  t.*M = std::get<std::vector<double>>(v);
}

constexpr auto D = Kind::dataset;
constexpr auto A = Kind::attribute;
constexpr auto G = Kind::group;
constexpr unsigned kRequiredGroup = 1u << 10;  // with Kind::group: the validator requires it

}  // namespace

const std::vector<Entry>& table() {
  static const std::vector<Entry> t = {
      // --- root ---
      {G, "", "", Type::none, "", "", "required", "the file", always, nullptr, nullptr, kRequiredGroup, nullptr},
      {A, "", "schema", Type::text, "", "", "required", "`\"xbar-device\"`", always,
       [](const T&) { return Value(std::string(kSchema)); }, nullptr, kNoRule, nullptr},
      {A, "", "schema_version", Type::integer, "", "", "required", "`1`; other versions are rejected", always,
       [](const T&) { return Value(int64_t(kVersion)); }, nullptr, kNoRule, nullptr},
      {A, "", "name", Type::text, "", "", "required", "device name, non-empty", always,
       [](const T& x) { return Value(x.name); }, set_text<&T::name>, kNoRule, nullptr},
      {A, "", "technology", Type::text, "", "", "required",
       "non-empty: pcm, rram, sonos, fefet, sram, ideal, ...", always,
       [](const T& x) { return Value(x.technology); }, set_text<&T::technology>, kNoRule, nullptr},
      {A, "", "source", Type::text, "", "", "source or citation", "where the numbers come from", nullptr,
       text<&T::source>, set_text<&T::source>, kNoRule, nullptr},
      {A, "", "citation", Type::text, "", "", "source or citation", "publication to cite", nullptr,
       text<&T::citation>, set_text<&T::citation>, kNoRule, nullptr},
      {A, "", "description", Type::text, "", "", "optional", "free text", nullptr, text<&T::description>,
       set_text<&T::description>, kNoRule, nullptr},
      // --- /conductance ---
      {G, "", "conductance", Type::none, "", "", "required", "conductance range", always, nullptr, nullptr,
       kRequiredGroup, nullptr},
      {D, "conductance", "g_min_uS", Type::real, "scalar", "uS", "required", "lowest conductance, >= 0", always,
       real<&T::g_min_uS>, set_real<&T::g_min_uS>, kNoRule, nullptr},
      {D, "conductance", "g_max_uS", Type::real, "scalar", "uS", "required", "highest conductance, > g_min_uS",
       always, real<&T::g_max_uS>, set_real<&T::g_max_uS>, kNoRule, nullptr},
      {D, "conductance", "levels_uS", Type::vector, "(L)", "uS", "optional",
       "finite states: strictly increasing, >= 0, at least 2, inside [g_min_uS, g_max_uS]", nullptr,
       vec<&T::levels_uS>, set_vec<&T::levels_uS>, kGrid | kNonneg, nullptr},
      // --- /programming ---
      {G, "", "programming", Type::none, "", "", "optional", "programming error (absent: exact programming)",
       [](const T& x) { return x.has_programming(); }, nullptr, nullptr, kNoRule, nullptr},
      {D, "programming", "g_target_uS", Type::vector, "(L)", "uS", "with the group",
       "target conductances, strictly increasing", always, vec<&T::prog_g_uS>, set_vec<&T::prog_g_uS>, kGrid,
       nullptr},
      {D, "programming", "sigma_uS", Type::vector, "(L)", "uS", "sigma_uS or samples_uS",
       "programming-error sigma at each target, >= 0", nullptr, vec<&T::prog_sigma_uS>,
       set_vec<&T::prog_sigma_uS>, kNonneg, "g_target_uS"},
      {D, "programming", "samples_uS", Type::matrix, "(L, N)", "uS", "sigma_uS or samples_uS",
       "raw programmed conductances, N >= 1 per target (sampled empirically)", nullptr,
       [](const T& x) { return x.has_samples() ? Value(Matrix{x.prog_samples_uS, x.prog_samples_n}) : Value(); },
       [](T& x, const Value& v) {
         const auto& m = std::get<Matrix>(v);
         x.prog_samples_uS = m.data, x.prog_samples_n = m.cols;
       },
       kNoRule, "g_target_uS"},
      {A, "programming", "sampling", Type::text, "", "", "optional",
       "`empirical_quantile` when samples_uS is present (informative)", nullptr,
       [](const T& x) { return x.has_samples() ? Value(std::string("empirical_quantile")) : Value(); }, nullptr,
       kNoRule, nullptr},
      // --- /read_noise ---
      {G, "", "read_noise", Type::none, "", "", "optional", "read noise (absent: none)",
       [](const T& x) { return x.has_read_noise(); }, nullptr, nullptr, kNoRule, nullptr},
      {D, "read_noise", "g_uS", Type::vector, "(K)", "uS", "with the group", "programmed conductance grid",
       always, vec<&T::read_g_uS>, set_vec<&T::read_g_uS>, kGrid, nullptr},
      {D, "read_noise", "sigma_uS", Type::vector, "(K)", "uS", "with the group",
       "sigma of one read at t_ref_s for a device programmed to g, >= 0", always, vec<&T::read_sigma_uS>,
       set_vec<&T::read_sigma_uS>, kNonneg, "g_uS"},
      {A, "read_noise", "time_model", Type::text, "", "", "optional", "`none` (default), `pcm_1f` or `power`",
       nullptr, [](const T& x) { return Value(x.read_time_model); }, set_text<&T::read_time_model>, kTimeModel,
       nullptr},
      {A, "read_noise", "t_ref_s", Type::real, "", "s", "time_model pcm_1f or power",
       "time of the sigma_uS table, > 0 (pcm_1f: > t_read_s)", timed, real<&T::read_t_ref_s>,
       set_real<&T::read_t_ref_s>, kPositive, nullptr},
      {A, "read_noise", "t_read_s", Type::real, "", "s", "time_model pcm_1f", "duration of one read, > 0", pcm_1f,
       real<&T::read_t_read_s>, set_real<&T::read_t_read_s>, kPositive, nullptr},
      {A, "read_noise", "time_exponent", Type::real, "", "1", "time_model power", "exponent of the power law",
       power, [](const T& x) { return power(x) ? Value(x.read_time_exponent) : Value(); },
       set_real<&T::read_time_exponent>, kNoRule, nullptr},
      {A, "read_noise", "scales_with_drift", Type::integer, "", "", "optional",
       "1: sigma scales with G(t)/G_prog (relative read noise); 0 (default): absolute", nullptr,
       [](const T& x) { return Value(int64_t(x.read_scales_with_drift ? 1 : 0)); },
       [](T& x, const Value& v) { x.read_scales_with_drift = std::get<double>(v) == 1; }, kFlag, nullptr},
      // --- /drift ---
      {G, "", "drift", Type::none, "", "", "optional", "conductance drift (absent: none)",
       [](const T& x) { return x.has_drift(); }, nullptr, nullptr, kNoRule, nullptr},
      {D, "drift", "g_uS", Type::vector, "(K)", "uS", "with the group", "programmed conductance grid", always,
       vec<&T::drift_g_uS>, set_vec<&T::drift_g_uS>, kGrid, nullptr},
      {D, "drift", "nu_mean", Type::vector, "(K)", "1", "with the group", "mean drift exponent at g", always,
       vec<&T::drift_nu_mean>, set_vec<&T::drift_nu_mean>, kNoRule, "g_uS"},
      {D, "drift", "nu_std", Type::vector, "(K)", "1", "with the group", "std of the drift exponent at g, >= 0",
       always, vec<&T::drift_nu_std>, set_vec<&T::drift_nu_std>, kNonneg, "g_uS"},
      {A, "drift", "t0_s", Type::real, "", "s", "with the group", "t0 of G(t) = G_prog ((t + t0)/t0)^-nu, > 0",
       always, real<&T::drift_t0_s>, set_real<&T::drift_t0_s>, kPositive, nullptr},
      // --- /faults ---
      {G, "", "faults", Type::none, "", "", "optional", "stuck-at faults (absent: none)", always, nullptr, nullptr,
       kNoRule, nullptr},
      {D, "faults", "stuck_at_gmin_rate", Type::real, "scalar", "1", "with the group",
       "fraction of cells stuck at g_min, in [0, 1]", always, real<&T::stuck_at_gmin_rate>,
       set_real<&T::stuck_at_gmin_rate>, kProbability, nullptr},
      {D, "faults", "stuck_at_gmax_rate", Type::real, "scalar", "1", "with the group",
       "fraction of cells stuck at g_max, in [0, 1]; the two add up to <= 1", always,
       real<&T::stuck_at_gmax_rate>, set_real<&T::stuck_at_gmax_rate>, kProbability, nullptr},
      // --- /iv ---
      {G, "", "iv", Type::none, "", "", "optional",
       "nonlinear I-V, I = G * i_per_g(V) (stored and validated; the engine's array model is ohmic)",
       [](const T& x) { return x.has_iv(); }, nullptr, nullptr, kNoRule, nullptr},
      {D, "iv", "v_V", Type::vector, "(M)", "V", "with the group", "voltage grid", always, vec<&T::iv_v_V>,
       set_vec<&T::iv_v_V>, kGrid, nullptr},
      {D, "iv", "i_per_g", Type::vector, "(M)", "V", "with the group", "current per conductance at v_V", always,
       vec<&T::iv_i_per_g>, set_vec<&T::iv_i_per_g>, kNoRule, "v_V"},
      // --- /provenance ---
      {G, "", "provenance", Type::none, "", "", "optional", "how the file was made", always, nullptr, nullptr,
       kNoRule, nullptr},
      {A, "provenance", "tool", Type::text, "", "", "optional", "program that wrote the file", nullptr,
       text<&T::tool>, set_text<&T::tool>, kNoRule, nullptr},
      {A, "provenance", "tool_version", Type::text, "", "", "optional", "its version", nullptr,
       text<&T::tool_version>, set_text<&T::tool_version>, kNoRule, nullptr},
      {A, "provenance", "date", Type::text, "", "", "optional", "ISO 8601 UTC (written: now or SOURCE_DATE_EPOCH)",
       nullptr, [](const T& x) { return Value(x.date.empty() ? iso_date_utc() : x.date); }, set_text<&T::date>,
       kNoRule, nullptr},
      {A, "provenance", "method", Type::text, "", "", "optional", "how the numbers were derived", nullptr,
       text<&T::method>, set_text<&T::method>, kNoRule, nullptr},
      {A, "provenance", "n_inputs", Type::integer, "", "", "optional", "number of input files, 0 .. 1000", nullptr,
       [](const T& x) { return Value(int64_t(x.inputs.size())); }, nullptr, kNoRule, nullptr},
      {A, "provenance", "input_K_name", Type::text, "", "", "per input", "input file K (0 .. n_inputs - 1) as given",
       nullptr, nullptr, nullptr, kNoRule, nullptr},
      {A, "provenance", "input_K_role", Type::text, "", "", "optional", "levels, raw, drift, read, model, ...",
       nullptr, nullptr, nullptr, kNoRule, nullptr},
      {A, "provenance", "input_K_sha256", Type::text, "", "", "per input", "SHA-256 of its bytes, 64 lowercase hex",
       nullptr, nullptr, nullptr, kNoRule, nullptr},
      // --- /extra ---
      {G, "", "extra", Type::none, "", "", "optional",
       "free-form material, ignored; any other unknown object is reported (typos)", nullptr, nullptr, nullptr,
       kNoRule, nullptr},
  };
  return t;
}

bool required_group(const Entry& e) { return e.kind == Kind::group && (e.rules & kRequiredGroup); }

std::string object_path(const Entry& e) {
  const std::string g = std::string("/") + e.group;
  switch (e.kind) {
    case Kind::group: return "/" + std::string(e.name);
    case Kind::dataset: return g + "/" + e.name;
    case Kind::attribute: break;
  }
  return g + "@" + e.name;
}

std::string markdown() {
  static const char* kinds[] = {"group", "dataset", "attr"};
  static const char* types[] = {"", "str", "int", "float", "float", "float"};
  std::ostringstream os;
  os << "| object | kind | shape | units | required | meaning |\n|---|---|---|---|---|---|\n";
  for (const auto& e : table()) {
    std::string kind = kinds[int(e.kind)];
    if (e.kind != Kind::group) kind += std::string(" ") + types[int(e.type)];
    os << "| `" << object_path(e) << "` | " << kind << " | " << e.shape << " | " << e.units << " | "
       << e.required << " | " << e.meaning << " |\n";
  }
  return os.str();
}

}  // namespace xbar::device_schema
