// HDF5 files of `xbar crossbar solve`: a circuit case (G, V, wire resistances) in, currents out.
// case.h5: dataset G (R x C, siemens), dataset V (B x R, volts), root attributes r_row, r_col
// (ohms, required), r_source, r_sense (ohms, default 0). out.h5: dataset I (B x C, amperes) and
// root attributes residual, solver, ir_drop_severity and the resistances used.
#pragma once
#include <Eigen/Dense>
#include <string>

#include "circuits/parasitics.h"

namespace xbar {

struct CrossbarCase {
  Eigen::MatrixXd G;  // R x C, siemens
  Eigen::MatrixXd V;  // B x R, volts
  WireConfig wires;
};

// Throws FileError naming the file, dataset or attribute and the offending value for a missing
// object, wrong rank or shape, NaN/Inf, negative conductance or negative resistance.
CrossbarCase read_crossbar_case(const std::string& path);

void write_crossbar_result(const std::string& path, const Eigen::MatrixXd& I, const CrossbarCase& c,
                           const SolveStats& stats, double severity);

}  // namespace xbar
