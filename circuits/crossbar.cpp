#include "circuits/crossbar.h"

namespace xbar {

Eigen::MatrixXf array_read_matrix(const Eigen::MatrixXf& G_uS, const WireConfig& wires, SolveStats* stats) {
  if (wires.ideal()) {
    if (stats) *stats = SolveStats{};
    return G_uS;
  }
  const Eigen::MatrixXd M_S = effective_matrix(G_uS.cast<double>() * 1e-6, wires, stats);
  return (M_S * 1e6).cast<float>();
}

}  // namespace xbar
