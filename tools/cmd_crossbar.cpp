// xbar crossbar solve: the exact IR-drop solve of one array for given row voltages (HDF5 in/out),
// the entry point for checking xbar's circuit model against other simulators.
#include <cxxopts.hpp>
#include <iostream>
#include <string>

#include "circuits/crossbar_io.h"
#include "circuits/parasitics.h"
#include "common/error.h"
#include "cli_parse.h"
#include "commands.h"

namespace xbar::cli {

namespace {

const char* kUsage =
    "usage: xbar crossbar solve --in case.h5 --out out.h5\n\n"
    "subcommands:\n"
    "  solve   column currents of one array with wire resistance (exact linear circuit solve)\n";

int solve(int argc, char** argv) {
  cxxopts::Options opt(
      "xbar crossbar solve",
      "Column currents of one crossbar array with wire parasitics (circuit convention: docs/DESIGN.md, \"Circuit convention\").\n"
      "Input HDF5 (--in): dataset G (R x C, float64, siemens; G[i,j] is the cell between row i and column j),\n"
      "  dataset V (B x R, float64, volts; one row-voltage vector per line), root attributes r_row and r_col\n"
      "  (float64, ohms per cell segment, required), r_source (row driver resistance, ohms, default 0) and\n"
      "  r_sense (column sense resistance, ohms, default 0).\n"
      "Output HDF5 (--out): dataset I (B x C, float64, amperes into each column's virtual ground), root\n"
      "  attributes residual (relative, direct solver), ir_drop_severity (worst relative\n"
      "  column-current shortfall for all-ones input) and the resistances used.");
  opt.add_options()("in", "input case file (HDF5 path; required, no default)", cxxopts::value<std::string>())(
      "out", "output file (HDF5 path, overwritten; required, no default)", cxxopts::value<std::string>())(
      "h,help", "show this help");
  const auto parsed = parse_or_help(opt, argc, argv, "\n");
  if (!parsed) return 0;
  const cxxopts::ParseResult& res = *parsed;
  require_options(res, opt, {"in", "out"});
  const std::string in = res["in"].as<std::string>(), out = res["out"].as<std::string>();
  const CrossbarCase c = read_crossbar_case(in);
  SolveStats stats;
  const Eigen::MatrixXd M = effective_matrix(c.G, c.wires, &stats);
  const Eigen::MatrixXd I = c.V * M;
  const double severity = ir_drop_severity(c.G, M);
  write_crossbar_result(out, I, c, stats, severity);
  std::cout << "crossbar solve: " << c.G.rows() << "x" << c.G.cols() << " array, " << c.V.rows()
            << " input vectors, residual " << stats.residual
            << ", ir_drop_severity " << severity << ", wrote " << out << "\n";
  return 0;
}

}  // namespace

int cmd_crossbar(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 1 : 0;
  }
  if (std::string(argv[1]) == "solve") return solve(argc - 1, argv + 1);
  throw Error(std::string("unknown crossbar subcommand '") + argv[1] + "' (see xbar crossbar --help)");
}

}  // namespace xbar::cli
