// Array stage: the matrix a read multiplies by. Ideal wires: the programmed conductances G
// (I = G^T V). With wire resistance: the effective matrix M(G) of the exact linear circuit
// (circuits/parasitics.h), recomputed once per programming or drift step.
#pragma once
#include <Eigen/Dense>

#include "circuits/parasitics.h"

namespace xbar {

// G in microsiemens (rows x columns); returns the matrix in microsiemens that maps row voltages
// to column currents (I_uA = M^T V). `stats` receives the solver's residual.
Eigen::MatrixXf array_read_matrix(const Eigen::MatrixXf& G_uS, const WireConfig& wires, SolveStats* stats = nullptr);

}  // namespace xbar
