// Wire parasitics (IR drop) of one crossbar array, convention of docs/DESIGN.md, "Circuit convention":
// R rows x C columns, G[i][j] (siemens) between row node (i,j) and column node (i,j); row i driven
// by an ideal source V_i through r_source then r_row per segment from j = 0 (far end open);
// column j read at i = R-1 by a virtual ground through r_col per segment then r_sense.
// The circuit is linear, so I = M^T V exactly for an effective matrix M(G).
#pragma once
#include <Eigen/Dense>
#include <vector>

#include "common/fields.h"

namespace xbar {

struct WireConfig {
  double r_row_ohm = 0.0;     // row wire resistance per cell segment
  double r_col_ohm = 0.0;     // column wire resistance per cell segment
  double r_source_ohm = 0.0;  // row driver output resistance
  double r_sense_ohm = 0.0;   // column sense (virtual ground) input resistance

  static const char* section() { return "wires"; }
  static const std::vector<Field<WireConfig>>& fields();
  void validate() const;
  bool ideal() const { return r_row_ohm == 0 && r_col_ohm == 0 && r_source_ohm == 0 && r_sense_ohm == 0; }
};

struct SolveStats {
  double residual = 0.0;  // relative residual of the final solution
};

// Effective matrix M (R x C, siemens): column currents are I = M^T V for any row voltages V.
// With all resistances zero, M == G.
// Solver: direct nested-dissection Schur reduction of the node network onto its R + C terminals
// (residual = worst relative residual of the dense eliminations it performed).
// Throws InputError for an empty, non-finite or negative G; ConfigError for invalid wires.
Eigen::MatrixXd effective_matrix(const Eigen::MatrixXd& G_S, const WireConfig& w, SolveStats* stats = nullptr);

// Column currents (B x C, amperes) for a batch of row voltages V (B x R, volts): I = V M(G).
Eigen::MatrixXd solve_currents(const Eigen::MatrixXd& G_S, const Eigen::MatrixXd& V, const WireConfig& w,
                               SolveStats* stats = nullptr);

// IR-drop severity of an array: worst relative column-current shortfall for an all-ones input,
// max_j (sum_i G_ij - sum_i M_ij) / sum_i G_ij over columns with current (0: ideal wires).
double ir_drop_severity(const Eigen::MatrixXd& G_S, const Eigen::MatrixXd& M_S);

// Read noise with parasitics (approximation): a cell's read-noise sigma acts on the output
// through the same attenuation as its signal, sigma_eff_ij = sigma_ij * M_ij / G_ij. Returns
// the factors M_ij / G_ij (1 where G_ij == 0, i.e. no attenuation assumed for empty cells).
// Error against a Monte Carlo of the exact circuit: tests/circuits/test_parasitics.cpp.
Eigen::MatrixXd read_noise_scale(const Eigen::MatrixXd& G_S, const Eigen::MatrixXd& M_S);

}  // namespace xbar
