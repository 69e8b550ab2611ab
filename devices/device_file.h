// HDF5 device characterization files (schema "xbar-device"): the table-driven DeviceModel.
#pragma once
#include <memory>

#include "devices/device_model.h"

namespace xbar {

// Loads and validates cfg.file; throws FileError naming the file and dataset on any problem.
std::unique_ptr<DeviceModel> load_device_file(const DeviceConfig& cfg);

}  // namespace xbar
