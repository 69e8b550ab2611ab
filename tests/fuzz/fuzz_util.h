// Shared helpers of the libFuzzer targets: a per-process scratch file for parsers that read paths.
// Expected failures are xbar's typed errors (common/error.h): the targets catch xbar::Error only,
// so any other exception, crash, leak or UB is reported by libFuzzer / the sanitizers.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

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

}  // namespace xbar::fuzz
