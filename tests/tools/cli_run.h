// Runs the xbar CLI (XBAR_BIN, set by CTest) for end-to-end tests: exit code and combined output,
// optionally under a file-size limit (a full disk, see tests/common/fsize_limit.h).
#pragma once
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/common/fsize_limit.h"

namespace xbar::test {

inline std::string xbar_bin() {
  const char* b = std::getenv("XBAR_BIN");
  REQUIRE_MESSAGE(b != nullptr, "XBAR_BIN must point at the xbar executable (set by CTest)");
  return b;
}

struct Run {
  int code;         // exit code; -1 when killed by a signal
  std::string out;  // stdout and stderr
};

inline Run run_xbar(const std::string& args) {
  const std::string cmd = xbar_bin() + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The same with every file the process writes limited to `bytes` (output in log_path).
inline Run run_xbar_limited(const std::string& args, size_t bytes, const std::string& log_path) {
  const std::string cmd = xbar_bin() + " " + args + " >" + log_path + " 2>&1";
  const int code = with_file_size_limit(bytes, [&] {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    return 98;
  });
  std::ifstream f(log_path);
  std::stringstream ss;
  ss << f.rdbuf();
  return {code < 0 ? -1 : code, ss.str()};
}

}  // namespace xbar::test
