#include "ml/model_data.h"

namespace xbar {

std::optional<data::Normalisation> model_normalisation(const torch::jit::Module& m) {
  if (!m.hasattr("xbar_input_mean") || !m.hasattr("xbar_input_std")) return std::nullopt;
  return data::Normalisation{float(m.attr("xbar_input_mean").toDouble()), float(m.attr("xbar_input_std").toDouble())};
}

void record_image_data(torch::jit::Module& m, const std::string& name, const data::Normalisation& n) {
  m.register_attribute("xbar_data", c10::StringType::get(), name);
  m.register_attribute("xbar_input_mean", c10::FloatType::get(), double(n.mean));
  m.register_attribute("xbar_input_std", c10::FloatType::get(), double(n.std));
}

data::ImageData image_data_for(const torch::jit::Module& m, const std::string& dir) {
  data::ImageData d;
  d.dir = dir;
  d.norm = model_normalisation(m);
  return d;
}

}  // namespace xbar
