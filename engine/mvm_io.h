// File interface of `xbar mvm`: W (out x in), X (batch x in) and optional bias (out) from HDF5;
// Y (batch x out), counters and the full configuration to HDF5.
#pragma once
#include <string>
#include <vector>

#include "engine/analog_layer.h"
#include "engine/hardware.h"

namespace xbar {

struct MvmInput {
  RowMatrixXf W, X;
  std::vector<float> bias;  // empty: no bias
};

// Throws FileError naming the file and dataset on a missing dataset, wrong rank or shape, or a
// non-finite value.
MvmInput read_mvm_input(const std::string& path);

// hw: also a /cost group, the cost of everything the layer counted (programming and reads).
void write_mvm_output(const std::string& path, const RowMatrixXf& Y, const AnalogLayer& layer,
                      const Hardware* hw = nullptr);

}  // namespace xbar
