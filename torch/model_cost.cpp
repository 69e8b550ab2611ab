#include "torch/model_cost.h"

#include <cstdio>
#include <sstream>

#include "torch/convert.h"

namespace xbar {

std::vector<LayerCounters> model_counters(const torch::jit::Module& m) {
  std::vector<LayerCounters> out;
  for (const auto& l : xbar_layers(m)) out.push_back(l->counter_values());
  return out;
}

std::vector<LayerCostRow> model_cost_rows(const torch::jit::Module& m, const Hardware& hw,
                                          const std::vector<LayerCounters>& before, double inferences) {
  std::vector<LayerCostRow> rows;
  const auto layers = xbar_layers(m);
  if (!before.empty() && before.size() != layers.size())
    throw InputError("model_cost_rows: " + std::to_string(before.size()) + " snapshots for " +
                     std::to_string(layers.size()) + " layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerCounters now = layers[i]->counter_values();
    const LayerCounters c = before.empty() ? now : counters_since(now, before[i]);
    rows.push_back({layers[i]->name(), per_inference(layer_cost(hw, layers[i]->config(), c,
                                                                layers[i]->writes_per_inference()),
                                                     inferences)});
  }
  return rows;
}

ModelCost model_cost(const std::vector<LayerCostRow>& rows) {
  std::vector<LayerCost> c;
  for (const auto& r : rows) c.push_back(r.cost);
  return model_cost(c);
}

c10::Dict<std::string, double> cost_dict(const LayerCost& c) {
  c10::Dict<std::string, double> d;
  for (const auto& [k, v] : cost_values(c)) d.insert(k, v);
  return d;
}

std::string cost_csv(const std::vector<LayerCostRow>& rows) {
  std::ostringstream os;
  os.precision(10);
  os << "layer";
  for (const auto& [k, v] : cost_values(LayerCost{})) os << "," << k;
  os << "\n";
  for (const auto& r : rows) {
    os << r.name;
    for (const auto& [k, v] : cost_values(r.cost)) os << "," << v;
    os << "\n";
  }
  return os.str();
}

std::string cost_table(const std::vector<LayerCostRow>& rows, const std::string& per) {
  std::ostringstream os;
  char buf[512];
  std::snprintf(buf, sizeof buf, "cost per %s (pJ; latency ns; area mm^2):\n  %-24s", per.c_str(), "layer");
  os << buf;
  for (const auto& f : energy_fields()) {
    std::snprintf(buf, sizeof buf, " %10s", f.name);
    os << buf;
  }
  std::snprintf(buf, sizeof buf, " %11s %11s %9s\n", "energy", "latency", "area");
  os << buf;
  auto line = [&](const std::string& name, const Energy& e, double total, double ns, double mm2) {
    std::snprintf(buf, sizeof buf, "  %-24s", name.c_str());
    os << buf;
    for (const auto& f : energy_fields()) {
      std::snprintf(buf, sizeof buf, " %10.4g", e.*f.member);
      os << buf;
    }
    std::snprintf(buf, sizeof buf, " %11.5g %11.5g %9.4g\n", total, ns, mm2);
    os << buf;
  };
  for (const auto& r : rows) {
    Energy e = r.cost.energy_pJ;
    if (!r.cost.writes_per_inference) e.write = 0;  // one-time programming: in the total line
    line(r.name, e, r.cost.inference_energy_pJ(), r.cost.inference_latency_ns(), r.cost.area_um2.total() * 1e-6);
  }
  const ModelCost m = model_cost(rows);
  line("total", m.energy_pJ, m.energy_pJ.total(), m.latency_ns, m.area_mm2);
  std::snprintf(buf, sizeof buf,
                "  energy %.5g pJ/%s, latency %.5g ns, pipelined %.5g ns/%s, area %.4g mm^2, %.4g TOPS/W, "
                "%.4g TOPS/mm^2 (2 ops per analog MAC); one-time weight programming %.4g pJ\n",
                m.energy_pJ.total(), per.c_str(), m.latency_ns, m.pipeline_ns, per.c_str(), m.area_mm2, m.tops_per_w(),
                m.tops_per_mm2(), m.program_energy_pJ);
  os << buf;
  return os.str();
}

}  // namespace xbar
