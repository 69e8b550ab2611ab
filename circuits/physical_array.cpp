#include "circuits/physical_array.h"

#include <algorithm>
#include <cmath>

#include "circuits/crossbar.h"
#include "circuits/rng_streams.h"
#include "common/rng.h"

namespace xbar {

namespace {
// Cell (i, j) of a column-major rows x cols array draws index j * rows + i of each stream: the
// position of the cell in the array's storage, so the draws of 16 consecutive cells are one
// vectorized batch of Philox blocks (CounterRng::lanes16), each block drawn once.
constexpr int kLanes = 16;
}  // namespace

PhysicalArray::PhysicalArray(uint64_t id, const Eigen::MatrixXf& cells, const DeviceModel& dev, uint64_t chip_key)
    : id_(id), device_(&dev), chip_key_(chip_key), g_prog_(cells.rows(), cells.cols()) {
  const double gmin = dev.g_min_uS(), dg = dev.g_max_uS() - dev.g_min_uS();
  const double rate_min = dev.stuck_at_gmin_rate(), rate_max = dev.stuck_at_gmax_rate();
  const CounterRng prog(make_key(chip_key, stream_id(Stream::program)), id),
      fault(make_key(chip_key, stream_id(Stream::fault)), id);
  const float* c = cells.data();
  float* g_out = g_prog_.data();
  const uint64_t n = uint64_t(cells.size());
  uint32_t pw[4][kLanes], fw[4][kLanes];
  for (uint64_t k0 = 0; k0 < n; k0 += kLanes) {
    prog.lanes16(k0, pw);
    fault.lanes16(k0, fw);
    const int m = int(std::min<uint64_t>(kLanes, n - k0));
    for (int l = 0; l < m; ++l) {
      const uint64_t idx = k0 + uint64_t(l);
      const double u = CounterRng::unit(fw[2][l]);
      double g;
      if (u < rate_min) g = gmin;
      else if (u < rate_min + rate_max) g = gmin + dg;
      else
        g = dev.program(dev.snap_to_level(gmin + c[idx] * dg), CounterRng::normal_of(pw[0][l], pw[1][l]),
                        CounterRng::unit(pw[2][l]));
      g_out[idx] = float(g);
    }
  }
}

ArrayReadState PhysicalArray::drift_to(double t_s, const CellAges& ages, const WireConfig& wires) const {
  const DeviceModel& dev = *device_;
  const double dg = dev.g_max_uS() - dev.g_min_uS();
  const double t0 = dev.t0_s();
  const double rate_stuck = dev.stuck_at_gmin_rate() + dev.stuck_at_gmax_rate();
  const bool read_noise = dev.read_scale > 0;
  const CounterRng nu(make_key(chip_key_, stream_id(Stream::drift_exponent)), id_),
      fault(make_key(chip_key_, stream_id(Stream::fault)), id_);
  const Eigen::Index rows = g_prog_.rows(), cols = g_prog_.cols();
  Eigen::MatrixXf g(rows, cols);
  ArrayReadState st;
  st.noise_var.resize(rows, cols);
  uint32_t nw[4][kLanes], fw[4][kLanes];
  const uint64_t n_cells = uint64_t(rows) * uint64_t(cols);
  Eigen::Index i = 0, j = 0;  // cell of storage index k (column-major)
  for (uint64_t k0 = 0; k0 < n_cells; k0 += kLanes) {
    nu.lanes16(k0, nw);
    fault.lanes16(k0, fw);
    const int m = int(std::min<uint64_t>(kLanes, n_cells - k0));
    for (int l = 0; l < m; ++l) {
      const double gp = g_prog_(i, j);
      double gt = gp;
      const double tc = t_s + (ages.row_s.empty() ? 0.0 : ages.row_s[size_t(i)]) +
                        (ages.col_s.empty() ? 0.0 : ages.col_s[size_t(j)]);
      if (tc > 0 && CounterRng::unit(fw[2][l]) >= rate_stuck) {
        const double n = dev.sample_nu(gp, CounterRng::normal_of(nw[0][l], nw[1][l]));
        if (n != 0) gt = gp * std::pow((tc + t0) / t0, -n);
      }
      g(i, j) = float(gt);
      const double sr = read_noise ? dev.read_scale * dev.read_sigma_uS(gp, gt, tc) / dg : 0.0;
      st.noise_var(i, j) = float(sr * sr);
      if (++i == rows) i = 0, ++j;
    }
  }
  SolveStats solve;
  st.M_uS = array_read_matrix(g, wires, &solve);
  st.residual = solve.residual;
  if (!wires.ideal()) {
    // Both functions are ratios of conductances, so microsiemens serve as well as siemens.
    const Eigen::MatrixXd gd = g.cast<double>(), md = st.M_uS.cast<double>();
    st.ir_drop_severity = ir_drop_severity(gd, md);
    if (read_noise) st.noise_var.array() *= read_noise_scale(gd, md).array().square().cast<float>();
  }
  return st;
}

}  // namespace xbar
