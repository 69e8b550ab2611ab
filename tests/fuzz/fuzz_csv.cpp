// libFuzzer target: measurement CSV -> import_device (devices/importers.cpp). The first byte picks
// the layout (levels, raw, drift, read) and the units (uS, S); the rest is the CSV file.
// Property: whatever the importer accepts is a valid device file (write_device_file validates it)
// and builds a TableDevice whose physics is finite.
#include <string>

#include "common/error.h"
#include "devices/importers.h"
#include "devices/table_device.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  const std::string& csv = xbar::fuzz::scratch_file(data + 1, size - 1, ".csv");
  xbar::ImportInputs in;
  switch (sel & 3) {
    case 0: in.levels_csv = csv; break;
    case 1: in.raw_csv = csv; break;
    case 2: in.drift_csv = csv; break;
    default: in.read_csv = csv; break;
  }
  xbar::ImportOptions opt;
  opt.name = "fuzz";
  opt.source = "fuzz input";  // the validator requires a source or citation
  opt.units = (sel & 4) ? "S" : "uS";
  xbar::ImportResult r;
  try {
    r = xbar::import_device(in, opt);
  } catch (const xbar::Error&) {
    return 0;
  }
  const std::string h5 = csv + ".h5";
  try {
    xbar::write_device_file(h5, r.tables);
  } catch (const xbar::FileError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    xbar::fuzz::require(false, "imported tables fail the device-file validator");
  }
  std::remove(h5.c_str());
  const xbar::TableDevice dev(r.tables);
  xbar::fuzz::require_finite_physics(dev, "imported device gives non-finite physics");
  return 0;
}
