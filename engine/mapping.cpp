#include "engine/mapping.h"

#include <cmath>

namespace xbar {

const std::vector<Field<MappingConfig>>& MappingConfig::fields() {
  using M = MappingConfig;
  static const std::vector<Field<M>> f = {
      {"tile_rows", "cells", "word lines (inputs) per crossbar array", &M::tile_rows, 1, 65536},
      {"tile_cols", "cells", "bit lines (outputs) per crossbar array", &M::tile_cols, 1, 65536},
      {"mapping", "", "signed weights: differential (G+ - G- pair) or offset (one array + reference column)",
       &M::mapping},
      {"scale", "", "weight scaling to the conductance range: per tile or per column", &M::scale},
      {"weight_bits", "bit", "weight resolution incl. sign (0: continuous conductances)", &M::weight_bits, 0, 24},
      {"cell_bits", "bit", "bits stored per cell when bit-slicing weights (0: one cell holds the whole weight)",
       &M::cell_bits, 0, 24},
  };
  return f;
}

void MappingConfig::validate() const {
  check_fields(*this);
  if (weight_bits == 1) throw ConfigError("mapping.weight_bits", "1", "signed weights need at least 2 bits");
  if (cell_bits > 0 && weight_bits == 0)
    throw ConfigError("mapping.cell_bits", std::to_string(cell_bits), "bit slicing needs mapping.weight_bits > 0");
}

namespace {
// Bits of the unsigned integer stored across the slices.
int stored_bits(const MappingConfig& c) { return c.mapping == SignedMapping::offset ? c.weight_bits : c.weight_bits - 1; }
}  // namespace

SliceLayout slice_layout(const MappingConfig& cfg) {
  SliceLayout L;
  const bool offset = cfg.mapping == SignedMapping::offset;
  if (cfg.weight_bits == 0) {
    L.weight = {offset ? 2.0 : 1.0};
    L.max_abs_diff = offset ? 0.5 : 1.0;
    return L;
  }
  const int B = stored_bits(cfg);
  const int cb = (cfg.cell_bits == 0 || cfg.cell_bits >= B) ? B : cfg.cell_bits;
  L.slices = (B + cb - 1) / cb;
  L.cell_bits = cb;
  const double levels = std::ldexp(1.0, cfg.weight_bits - 1) - 1.0;  // max |q|
  const double dmax = std::ldexp(1.0, cb) - 1.0;
  L.unit = 1.0 / dmax;
  for (int s = 0; s < L.slices; ++s) L.weight.push_back(dmax * std::ldexp(1.0, cb * s) / levels);
  if (!offset) {
    L.max_abs_diff = 1.0;
  } else {
    // Zero point Z = 2^(weight_bits-1): its top digit sits in the last slice.
    const int64_t Z = int64_t(1) << (cfg.weight_bits - 1);
    double m = 0;
    for (int s = 0; s < L.slices; ++s) {
      const double z = double((Z >> (cb * s)) & ((int64_t(1) << cb) - 1));
      m = std::max({m, z, dmax - z});
    }
    L.max_abs_diff = m / dmax;
  }
  return L;
}

std::vector<std::vector<Eigen::MatrixXf>> map_tile(const MappingConfig& cfg, const SliceLayout& L,
                                                   const Eigen::MatrixXf& w) {
  const Eigen::Index R = w.rows(), C = w.cols();
  const bool offset = cfg.mapping == SignedMapping::offset;
  std::vector<std::vector<Eigen::MatrixXf>> out(L.slices);
  for (auto& s : out) {
    if (offset) s.assign(1, Eigen::MatrixXf::Zero(R, C + 1));
    else s.assign(2, Eigen::MatrixXf::Zero(R, C));
  }
  if (cfg.weight_bits == 0) {
    for (Eigen::Index j = 0; j < C; ++j)
      for (Eigen::Index i = 0; i < R; ++i) {
        const float v = w(i, j);
        if (offset) out[0][0](i, j) = 0.5f * (v + 1.0f);
        else (v >= 0 ? out[0][0] : out[0][1])(i, j) = std::abs(v);
      }
    if (offset) out[0][0].col(C).setConstant(0.5f);
    return out;
  }
  const double levels = std::ldexp(1.0, cfg.weight_bits - 1) - 1.0;
  const int cb = L.cell_bits;
  const int64_t mask = (int64_t(1) << cb) - 1;
  const float dmax = float(mask);
  const int64_t Z = int64_t(1) << (cfg.weight_bits - 1);
  if (!offset && L.slices == 1) {  // one cell per weight: the loop below without its branches (vectorizes)
    const float* wv = w.data();
    float *pos = out[0][0].data(), *neg = out[0][1].data();
    for (Eigen::Index k = 0; k < R * C; ++k) {
      const int64_t q = int64_t(std::nearbyint(double(wv[k]) * levels));
      const float v = float((q < 0 ? -q : q) & mask) / dmax;
      pos[k] = q < 0 ? 0.0f : v;
      neg[k] = q < 0 ? v : 0.0f;
    }
    return out;
  }
  for (Eigen::Index j = 0; j < C; ++j)
    for (Eigen::Index i = 0; i < R; ++i) {
      const int64_t q = int64_t(std::nearbyint(double(w(i, j)) * levels));
      if (offset) {
        const int64_t u = q + Z;
        for (int s = 0; s < L.slices; ++s) out[s][0](i, j) = float((u >> (cb * s)) & mask) / dmax;
      } else {
        const int64_t m = q < 0 ? -q : q;
        for (int s = 0; s < L.slices; ++s) out[s][q < 0 ? 1 : 0](i, j) = float((m >> (cb * s)) & mask) / dmax;
      }
    }
  if (offset)
    for (int s = 0; s < L.slices; ++s) out[s][0].col(C).setConstant(float((Z >> (cb * s)) & mask) / dmax);
  return out;
}

}  // namespace xbar
