// The image data a classifier was trained on, recorded in the model: string attribute `xbar_data`
// (the data set's name) and float attributes `xbar_input_mean` / `xbar_input_std` (its
// normalisation), so evaluation and retraining feed it inputs normalised the same way.
#pragma once
#include <torch/script.h>

#include <optional>
#include <string>

#include "ml/image_data.h"

namespace xbar {

// The normalisation the model records, if any (models without are normalised with their data
// set's own, normalisation_of; for Fashion-MNIST that is data::kFashionMnistNorm).
std::optional<data::Normalisation> model_normalisation(const torch::jit::Module& m);
// Records (or overwrites) the data set's name and normalisation in the model.
void record_image_data(torch::jit::Module& m, const std::string& name, const data::Normalisation& n);
// The images in dir as the model sees them: normalised as it records, else with the data's own.
data::ImageData image_data_for(const torch::jit::Module& m, const std::string& dir);

}  // namespace xbar
