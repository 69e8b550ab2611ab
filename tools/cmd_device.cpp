// `xbar device`: HDF5 device characterization files (schema table in devices/device_schema.cpp,
// printed by `xbar device schema` into data/devices/README.md): import from measurement CSVs, tabulate a parametric model, show a
// summary, validate (every problem with its dataset path; non-zero exit on any).
#include <cxxopts.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "common/error.h"
#include "common/fields.h"
#include "devices/device_file.h"
#include "devices/device_schema.h"
#include "devices/importers.h"
#include "devices/table_device.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {

std::string fmt_g(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

const char* kUsage =
    "usage: xbar device <import|tabulate|show|validate|schema> [options]   (xbar device <sub> --help)\n"
    "  import    build a validated .h5 from measurement CSVs (levels, raw, drift, read noise)\n"
    "  tabulate  write a parametric model (pcm, rram, ideal, normal) as a table-driven .h5\n"
    "  show      print a summary table of a device file\n"
    "  validate  check files against the schema; lists every problem, exit code 1 if any\n"
    "  schema    print the schema table (Markdown; the table of data/devices/README.md)\n";

int device_import(int argc, char** argv) {
  cxxopts::Options o("xbar device import",
                     "Import measurement CSVs into an xbar-device HDF5 file (data/devices/README.md).\n"
                     "CSV layouts (header optional; '#' lines skipped):\n"
                     "  --levels-csv  state,mean,std          per-state mean/std (NeuroSim mem_states.csv style)\n"
                     "  --raw-csv     target_uS,measured_uS   one programmed device per row, binned into levels\n"
                     "  --drift-csv   g0_uS,t_s,g_uS          G at time t of the device programmed to g0\n"
                     "  --read-csv    g_uS,read_uS            repeated reads; equal g_uS = one device\n");
  o.add_options()
      ("o,out", "output HDF5 file (required)", cxxopts::value<std::string>())
      ("name", "device name stored in the file (required)", cxxopts::value<std::string>())
      ("technology", "technology: pcm, rram, sonos, fefet, sram, ...", cxxopts::value<std::string>()->default_value("unknown"))
      ("source", "where the measurements come from (source or citation required)", cxxopts::value<std::string>()->default_value(""))
      ("citation", "publication to cite", cxxopts::value<std::string>()->default_value(""))
      ("description", "free text", cxxopts::value<std::string>()->default_value(""))
      ("levels-csv", "(a) per-state CSV state,mean,std", cxxopts::value<std::string>()->default_value(""))
      ("raw-csv", "(b) raw CSV target_uS,measured_uS", cxxopts::value<std::string>()->default_value(""))
      ("drift-csv", "(c) drift CSV g0_uS,t_s,g_uS", cxxopts::value<std::string>()->default_value(""))
      ("read-csv", "(d) read-noise CSV g_uS,read_uS", cxxopts::value<std::string>()->default_value(""))
      ("units", "unit of every conductance column in the CSVs: uS or S", cxxopts::value<std::string>()->default_value("uS"))
      ("g-min", "g_min [uS] (default: lowest level / data value, floored at 0)", cxxopts::value<double>())
      ("g-max", "g_max [uS] (default: highest level / data value)", cxxopts::value<double>())
      ("no-levels", "do not store the levels as finite states (continuous device)")
      ("bin-tol", "raw CSV: targets closer than this fraction of the target range form one level [1]", cxxopts::value<double>()->default_value("0.001"))
      ("t0", "drift reference time t0 [s] of G(t) = G0 ((t + t0)/t0)^-nu", cxxopts::value<double>()->default_value("20"))
      ("drift-bins", "number of equal-count G bins for the drift table", cxxopts::value<int>()->default_value("8"))
      ("read-bins", "number of equal-count G bins for the read-noise table", cxxopts::value<int>()->default_value("8"))
      ("read-t-ref", "time after programming at which the reads were taken [s]", cxxopts::value<double>()->default_value("1"))
      ("read-absolute", "read noise does not scale with drifted G(t) (default: it does)")
      ("stuck-gmin", "fraction of cells stuck at g_min [1]", cxxopts::value<double>()->default_value("0"))
      ("stuck-gmax", "fraction of cells stuck at g_max [1]", cxxopts::value<double>()->default_value("0"))
      ("q,quiet", "do not print the fit report")
      ("h,help", "show this help");
  const auto parsed = parse_or_help(o, argc, argv, "\n");
  if (!parsed) return 0;
  const cxxopts::ParseResult& r = *parsed;
  require_options(r, o, {"out", "name"});
  ImportInputs in{r["levels-csv"].as<std::string>(), r["raw-csv"].as<std::string>(), r["drift-csv"].as<std::string>(),
                  r["read-csv"].as<std::string>()};
  ImportOptions opt;
  opt.name = r["name"].as<std::string>();
  opt.technology = r["technology"].as<std::string>();
  opt.source = r["source"].as<std::string>();
  opt.citation = r["citation"].as<std::string>();
  opt.description = r["description"].as<std::string>();
  opt.units = r["units"].as<std::string>();
  if (r.count("g-min")) opt.g_min_uS = r["g-min"].as<double>();
  if (r.count("g-max")) opt.g_max_uS = r["g-max"].as<double>();
  opt.levels = !r.count("no-levels");
  opt.bin_rel_tol = r["bin-tol"].as<double>();
  opt.t0_s = r["t0"].as<double>();
  opt.drift_bins = r["drift-bins"].as<int>();
  opt.read_bins = r["read-bins"].as<int>();
  opt.read_t_ref_s = r["read-t-ref"].as<double>();
  opt.read_scales_with_drift = !r.count("read-absolute");
  opt.stuck_at_gmin_rate = r["stuck-gmin"].as<double>();
  opt.stuck_at_gmax_rate = r["stuck-gmax"].as<double>();
  auto res = import_device(in, opt);
  const std::string out = r["out"].as<std::string>();
  write_device_file(out, res.tables);
  if (!r.count("quiet")) std::cout << res.report;
  std::cout << "wrote " << out << " (validated)\n";
  return 0;
}

struct ModelRef {
  DeviceKind model;
  const char* source;
  const char* citation;
};
const ModelRef kRefs[] = {
    {DeviceKind::pcm, "xbar parametric PCM model (devices/pcm.cpp), the model of IBM aihwkit's PCMLikeNoiseModel calibrated on ~1M devices",
     "S. R. Nandakumar et al., ICECS 2019; V. Joshi et al., Nat. Commun. 11, 2473 (2020)"},
    {DeviceKind::rram, "xbar parametric RRAM model (devices/rram.cpp): programming sigma ~1 uS at the ends of a 40 uS range, ~2.4 uS mid-range; read noise 1% of G; no drift",
     "W. Wan et al., Nature 608, 504 (2022) (NeuRRAM)"},
    {DeviceKind::ideal, "noise-free ideal device (xbar parametric 'ideal')", ""},
    {DeviceKind::normal, "xbar generic Gaussian model (devices/normal_device.cpp)", ""},
};

int device_tabulate(int argc, char** argv) {
  cxxopts::Options o("xbar device tabulate",
                     "Tabulate a parametric device model into an xbar-device HDF5 file; the table-driven model\n"
                     "reproduces it (report: worst table-vs-model error).");
  o.add_options()
      ("m,model", "parametric model: pcm, rram, ideal, normal", cxxopts::value<std::string>()->default_value("pcm"))
      ("o,out", "output HDF5 file (required)", cxxopts::value<std::string>())
      ("g-min", "g_min [uS]", cxxopts::value<double>()->default_value("0"))
      ("g-max", "g_max [uS] (pcm/rram noise scales with it)", cxxopts::value<double>()->default_value("25"))
      ("levels", "equally spaced programmable levels (0: continuous)", cxxopts::value<int>()->default_value("0"))
      ("set", "other device.* field as key=value (e.g. normal.prog_sigma_uS=0.5, pcm.t0_s=30); repeatable", cxxopts::value<std::vector<std::string>>())
      ("name", "device name stored in the file (default: the model name)", cxxopts::value<std::string>()->default_value(""))
      ("source", "override the source attribute", cxxopts::value<std::string>()->default_value(""))
      ("citation", "override the citation attribute", cxxopts::value<std::string>()->default_value(""))
      ("q,quiet", "do not print the tabulation report")
      ("h,help", "show this help");
  const auto parsed = parse_or_help(o, argc, argv, "\nDevice fields for --set:\n" + fields_help<DeviceConfig>() + fields_help<NormalDeviceConfig>() +
                                                     fields_help<PcmDeviceConfig>() + fields_help<RramDeviceConfig>());
  if (!parsed) return 0;
  const cxxopts::ParseResult& r = *parsed;
  require_options(r, o, {"out"});
  DeviceConfig cfg;
  cfg.model = parse_enum<DeviceKind>("--model", r["model"].as<std::string>());
  cfg.g_min_uS = r["g-min"].as<double>();
  cfg.g_max_uS = r["g-max"].as<double>();
  cfg.levels = r["levels"].as<int>();
  if (r.count("set"))
    for (const auto& kv : r["set"].as<std::vector<std::string>>()) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) throw ConfigError("--set", kv, "expected key=value");
      set_device_field(cfg, kv.substr(0, eq), FieldValue(kv.substr(eq + 1)));
    }
  std::string source = r["source"].as<std::string>(), citation = r["citation"].as<std::string>();
  for (const auto& ref : kRefs)
    if (cfg.model == ref.model) {
      if (source.empty()) source = ref.source;
      if (citation.empty()) citation = ref.citation;
    }
  auto res = tabulate_device(cfg, source, citation);
  if (!r["name"].as<std::string>().empty()) res.tables.name = r["name"].as<std::string>();
  const std::string out = r["out"].as<std::string>();
  write_device_file(out, res.tables);
  if (!r.count("quiet")) std::cout << res.report;
  std::cout << "wrote " << out << " (validated)\n";
  return 0;
}

int device_show(int argc, char** argv) {
  cxxopts::Options o("xbar device show", "Print a summary of an xbar-device HDF5 file.");
  o.add_options()
      ("file", "device file", cxxopts::value<std::string>())
      ("rows", "number of G rows in the table", cxxopts::value<int>()->default_value("9"))
      ("t", "read-noise time t [s] for the extra read-sigma column", cxxopts::value<double>()->default_value("86400"))
      ("h,help", "show this help");
  o.parse_positional({"file"});
  o.positional_help("FILE");
  const auto parsed = parse_or_help(o, argc, argv, "\n");
  if (!parsed) return 0;
  const cxxopts::ParseResult& r = *parsed;
  require_options(r, o, {"file"}, "FILE");
  const std::string path = r["file"].as<std::string>();
  TableDevice d(read_device_file(path));
  const DeviceTables& t = d.tables();
  std::printf("%s\n  name: %s   technology: %s   schema: xbar-device v%d\n", path.c_str(), t.name.c_str(),
              t.technology.c_str(), device_schema::kVersion);
  if (!t.source.empty()) std::printf("  source: %s\n", t.source.c_str());
  if (!t.citation.empty()) std::printf("  citation: %s\n", t.citation.c_str());
  if (!t.description.empty()) std::printf("  description: %s\n", t.description.c_str());
  std::printf("  conductance: g_min %.6g uS, g_max %.6g uS, %s\n", t.g_min_uS, t.g_max_uS,
              t.levels_uS.empty() ? "continuous" : (std::to_string(t.levels_uS.size()) + " levels").c_str());
  if (!t.levels_uS.empty() && t.levels_uS.size() <= 32) {
    std::printf("  levels_uS:");
    for (double l : t.levels_uS) std::printf(" %.4g", l);
    std::printf("\n");
  }
  std::printf("  programming: %s\n",
              !t.has_programming() ? "none (exact)"
              : t.has_samples()   ? ("empirical from " + std::to_string(t.prog_g_uS.size()) + " levels x " +
                                   std::to_string(t.prog_samples_n) + " samples").c_str()
                                  : ("Gaussian, sigma table of " + std::to_string(t.prog_g_uS.size()) + " points").c_str());
  std::printf("  read noise:  %s\n",
              !t.has_read_noise() ? "none"
                                  : (std::to_string(t.read_g_uS.size()) + " points at t_ref = " + fmt_g(t.read_t_ref_s) +
                                     " s, time_model " + t.read_time_model +
                                     (t.read_scales_with_drift ? ", scales with G(t)" : ", absolute"))
                                        .c_str());
  std::printf("  drift:       %s\n", !t.has_drift() ? "none"
                                                    : (std::to_string(t.drift_g_uS.size()) + " points, t0 = " +
                                                       fmt_g(t.drift_t0_s) + " s")
                                                          .c_str());
  std::printf("  faults:      stuck at g_min %.4g, stuck at g_max %.4g\n", t.stuck_at_gmin_rate, t.stuck_at_gmax_rate);
  if (t.has_iv()) std::printf("  I-V:         %zu points, %.4g .. %.4g V\n", t.iv_v_V.size(), t.iv_v_V.front(), t.iv_v_V.back());
  const int rows = std::max(2, r["rows"].as<int>());
  const double tt = r["t"].as<double>();
  std::printf("\n  %10s %12s %12s %14s %9s %9s\n", "G [uS]", "prog_sd[uS]", "read_sd@ref", "read_sd@t [uS]", "nu_mean",
              "nu_std");
  for (int i = 0; i < rows; ++i) {
    const double g = t.g_min_uS + (t.g_max_uS - t.g_min_uS) * i / double(rows - 1);
    const double gt = g * std::pow((tt + d.t0_s()) / d.t0_s(), -d.nu_mean(g));
    std::printf("  %10.4g %12.4g %12.4g %14.4g %9.4g %9.4g\n", g, d.prog_sigma_uS(g), d.read_sigma_uS(g, g, t.read_t_ref_s),
                d.read_sigma_uS(g, gt, tt), d.nu_mean(g), d.nu_std(g));
  }
  std::printf("  (read_sd@t: at t = %s s, after mean drift)\n", format_double(tt).c_str());
  std::printf("\n  provenance: %s %s, %s\n", t.tool.c_str(), t.tool_version.c_str(), t.date.c_str());
  if (!t.method.empty()) std::printf("    method: %s\n", t.method.c_str());
  for (const auto& in : t.inputs)
    std::printf("    input (%s): %s sha256 %s\n", in.role.c_str(), in.name.c_str(), in.sha256.c_str());
  return 0;
}

int device_validate(int argc, char** argv) {
  cxxopts::Options o("xbar device validate",
                     "Check device files against the xbar-device schema. Prints every problem with its dataset\n"
                     "or attribute path; exit code 0 if all files are valid, 1 otherwise.");
  o.add_options()
      ("files", "device files", cxxopts::value<std::vector<std::string>>())
      ("h,help", "show this help");
  o.parse_positional({"files"});
  o.positional_help("FILE...");
  const auto parsed = parse_or_help(o, argc, argv, "\n");
  if (!parsed) return 0;
  const cxxopts::ParseResult& r = *parsed;
  require_options(r, o, {"files"}, "one or more FILEs");
  int bad = 0;
  for (const auto& f : r["files"].as<std::vector<std::string>>()) {
    auto p = validate_device_file(f);
    if (p.empty()) {
      std::printf("%s: valid (xbar-device v%d)\n", f.c_str(), device_schema::kVersion);
    } else {
      ++bad;
      std::printf("%s\n", format_problems(f, p).c_str());
    }
  }
  return bad ? 1 : 0;
}

}  // namespace

int cmd_device(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 1 : 0;
  }
  const std::string sub = argv[1];
  try {
    if (sub == "import") return device_import(argc - 1, argv + 1);
    if (sub == "tabulate") return device_tabulate(argc - 1, argv + 1);
    if (sub == "show") return device_show(argc - 1, argv + 1);
    if (sub == "validate") return device_validate(argc - 1, argv + 1);
    if (sub == "schema") return std::cout << device_schema::markdown(), 0;
  } catch (const cxxopts::exceptions::exception& e) {
    throw ConfigError("xbar device " + sub, "options", e.what());
  }
  std::cerr << "xbar device: unknown subcommand '" << sub << "'\n" << kUsage;
  return 1;
}

}  // namespace xbar::cli
