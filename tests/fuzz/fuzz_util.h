// Shared helpers of the libFuzzer targets: a per-process scratch file for parsers that read paths.
// Expected failures are xbar's typed errors (common/error.h): the targets catch xbar::Error only,
// so any other exception, crash, leak or UB is reported by libFuzzer / the sanitizers.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <string>

#include "devices/table_device.h"

namespace xbar::fuzz {

// Writes the input to a file owned by this process (same path every call; removed at exit).
inline const std::string& scratch_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string path = [&] {
    const char* tmp = std::getenv("TMPDIR");
    std::string p = std::string(tmp && *tmp ? tmp : "/tmp") + "/xbar_fuzz_" + std::to_string(getpid()) + suffix;
    static std::string keep;
    keep = p;
    std::atexit([] { std::remove(keep.c_str()); });
    return p;
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();  // the scratch directory itself is broken: not a finding in xbar
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Crash deliberately (a finding) when a property that must hold for accepted input does not.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

// An accepted device (file or import) must give finite physics across its conductance range.
inline void require_finite_physics(const TableDevice& dev, const char* what) {
  for (double f : {0.0, 0.37, 1.0}) {
    const double g = dev.g_min_uS() + f * (dev.g_max_uS() - dev.g_min_uS());
    require(std::isfinite(dev.program(g, 0.5, 0.3)) && std::isfinite(dev.prog_sigma_uS(g)) &&
                std::isfinite(dev.nu_mean(g)) && std::isfinite(dev.nu_std(g)) && std::isfinite(dev.read_sigma_uS(g, g, 10.0)),
            what);
  }
}

}  // namespace xbar::fuzz
