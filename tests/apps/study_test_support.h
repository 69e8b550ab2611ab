// Helpers shared by the study tests: source paths, one temporary directory per test process, files.
#pragma once
#include <doctest/doctest.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <string>

namespace xbar::test {

inline std::string src(const std::string& rel) { return std::string(XBAR_SOURCE_DIR) + "/" + rel; }
// Created on first use; the tests leave it for inspection (it is under /tmp).
inline std::string tmpdir() {
  static std::string d = [] {
    char t[] = "/tmp/xbar_study_XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    return std::string(t);
  }();
  return d;
}
inline std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace xbar::test
