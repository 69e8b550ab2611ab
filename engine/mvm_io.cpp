#include "engine/mvm_io.h"

#include <cmath>
#include <limits>
#include <variant>

#include "common/fields.h"

#include "common/h5io.h"
#include "engine/cost.h"

namespace xbar {

namespace {
// float32 copy; a float64 value beyond float32's range is named rather than turned into inf.
RowMatrixXf to_matrix(const h5::Array& a, const std::string& path, const std::string& name) {
  RowMatrixXf m(a.rows(), a.cols());
  for (size_t i = 0; i < a.data.size(); ++i) {
    if (std::abs(a.data[i]) > double(std::numeric_limits<float>::max()))
      throw FileError(path + ": dataset " + name + "[" + std::to_string(i / a.cols()) + "][" +
                      std::to_string(i % a.cols()) + "] = " + format_double(a.data[i]) + " overflows float32 (largest 3.4e38)");
    m.data()[i] = float(a.data[i]);
  }
  return m;
}
}  // namespace

MvmInput read_mvm_input(const std::string& path) {
  h5::Reader r(path);
  MvmInput in;
  const h5::Array W = r.read("W", 2), X = r.read("X", 2);
  if (W.rows() == 0 || W.cols() == 0)
    throw FileError(path + ": dataset W is empty (" + std::to_string(W.rows()) + " x " + std::to_string(W.cols()) + ")");
  if (X.cols() != W.cols())
    throw FileError(path + ": dataset X has " + std::to_string(X.cols()) + " columns but W has " +
                    std::to_string(W.cols()) + " (X is batch x in, W is out x in)");
  in.W = to_matrix(W, path, "W");
  in.X = to_matrix(X, path, "X");
  if (r.has("bias")) {
    const h5::Array b = r.read("bias", 1);
    if (b.rows() != W.rows())
      throw FileError(path + ": dataset bias has " + std::to_string(b.rows()) + " entries, W has " +
                      std::to_string(W.rows()) + " outputs");
    const RowMatrixXf bm = to_matrix(b, path, "bias");
    in.bias.assign(bm.data(), bm.data() + bm.size());
  }
  return in;
}

void write_mvm_output(const std::string& path, const RowMatrixXf& Y, const AnalogLayer& layer, const Hardware* hw) {
  h5::Writer w(path);
  std::vector<float> y(Y.data(), Y.data() + Y.size());
  w.write("Y", y, {size_t(Y.rows()), size_t(Y.cols())});
  w.group("/counters");
  for (const CounterField& f : counter_fields())
    std::visit([&](auto m) { w.attr("/counters", f.name, layer.counters().*m); }, f.member);
  if (hw) {
    w.group("/cost");
    w.attr("/cost", "hardware", hw->name);
    for (const auto& [k, v] : cost_values(layer_cost(*hw, layer.config(), layer.counters(), true))) w.attr("/cost", k, v);
  }
  w.group("/config");
  for (const auto& [k, v] : flatten(layer.config())) w.attr("/config", k, v);
  w.close();
}

}  // namespace xbar
