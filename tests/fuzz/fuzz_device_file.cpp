// libFuzzer target: bytes as an HDF5 device file -> validate_device_file
// (devices/device_file.cpp), then a TableDevice (devices/table_device.cpp) built from what was
// accepted. The input is written to a scratch file (HDF5 reads paths).
// (read_device_file is validate_device_file plus a throw, so the target validates once.)
// Property: an accepted file gives a TableDevice with finite physics.
#include <string>

#include "common/error.h"
#include "devices/device_file.h"
#include "devices/table_device.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = xbar::fuzz::scratch_file(data, size, ".h5");
  xbar::DeviceTables t;
  if (!xbar::validate_device_file(path, &t).empty()) return 0;
  const xbar::TableDevice dev(t);
  xbar::fuzz::require_finite_physics(dev, "accepted device file gives non-finite physics");
  return 0;
}
