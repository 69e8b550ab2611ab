#include "devices/device_file.h"

namespace xbar {

std::unique_ptr<DeviceModel> load_device_file(const DeviceConfig& cfg) {
  throw FileError(cfg.file + ": HDF5 device files are not supported in this build yet");
}

}  // namespace xbar
