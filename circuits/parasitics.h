// Wire parasitics (IR drop) of one crossbar array, DESIGN.md section 2 convention:
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
  int iterations = 0;     // solver iterations (0 for a direct solve)
  double residual = 0.0;  // relative residual of the final solution
};

// Effective matrix M (R x C, siemens): column currents are I = M^T V for any row voltages V.
// With all resistances zero, M == G.
Eigen::MatrixXd effective_matrix(const Eigen::MatrixXd& G_S, const WireConfig& w, SolveStats* stats = nullptr);

}  // namespace xbar
