#include "apps/point_cost.h"

#include <algorithm>
#include <map>

namespace xbar {

namespace {
int ceil_div(int a, int b) { return (a + b - 1) / b; }
}  // namespace

double point_cost(const XbarConfig& c) {
  const int dac_mag = c.dac.bits - (c.dac.is_signed ? 1 : 0);
  const int in_slices = (c.dac.slice_bits > 0 && dac_mag > 0) ? ceil_div(dac_mag, c.dac.slice_bits) : 1;
  const int w_mag = c.mapping.weight_bits - 1;
  const int w_slices = (c.mapping.cell_bits > 0 && w_mag > 0) ? ceil_div(w_mag, c.mapping.cell_bits) : 1;
  const int arrays = c.mapping.mapping == SignedMapping::differential ? 2 : 1;
  return double(in_slices) * w_slices * arrays * 256.0 / double(c.mapping.tile_rows);
}

std::vector<int64_t> costliest_first(const StudySpec& s, const Policy& base, const std::vector<StudyPoint>& todo) {
  std::map<std::vector<std::string>, double> cost;  // repeats share their grid values' cost
  std::vector<std::pair<double, int64_t>> order;
  for (const auto& p : todo) {
    auto it = cost.find(p.values);
    if (it == cost.end()) {
      it = cost.emplace(p.values, point_cost(point_policy(base, s, p.values).defaults)).first;
    }
    order.emplace_back(it->second, p.index);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<int64_t> out;
  for (const auto& o : order) out.push_back(o.second);
  return out;
}

}  // namespace xbar
