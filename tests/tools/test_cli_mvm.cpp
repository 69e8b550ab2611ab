// End-to-end tests of `xbar mvm`: results against the float product, and one clear error line
// with a non-zero exit code for bad input.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "common/h5io.h"
#include "tests/tools/cli_run.h"

using namespace xbar;

namespace {

using test::Run;
Run run(const std::string& args) { return test::run_xbar(args); }

std::string tmp(const std::string& name) { return "/tmp/xbar_cli_" + std::to_string(::getpid()) + "_" + name; }

void write_case(const std::string& path, int out, int in, int batch, bool nan = false) {
  std::mt19937 g(5);
  std::normal_distribution<double> n;
  std::vector<double> W(size_t(out) * in), X(size_t(batch) * in), b(out);
  for (auto& v : W) v = n(g);
  for (auto& v : X) v = n(g);
  for (auto& v : b) v = n(g);
  if (nan) W[3] = std::nan("");
  h5::Writer w(path);
  w.write("W", W, {size_t(out), size_t(in)});
  w.write("X", X, {size_t(batch), size_t(in)});
  w.write("bias", b, {size_t(out)});
  w.close();
}

}  // namespace

TEST_CASE("xbar mvm: ideal config reproduces X W^T + b") {
  const std::string in = tmp("in.h5"), out = tmp("out.h5");
  write_case(in, 30, 70, 5);
  const Run r = run("mvm --in " + in + " --out " + out + " --set mapping.tile_rows=32 --set mapping.tile_cols=16");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  h5::Reader ri(in), ro(out);
  const auto W = ri.read("W"), X = ri.read("X"), b = ri.read("bias"), Y = ro.read("Y", 2);
  REQUIRE(Y.rows() == 5);
  REQUIRE(Y.cols() == 30);
  double err = 0, norm = 0;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 30; ++j) {
      double ref = b.data[j];
      for (int k = 0; k < 70; ++k) ref += X.data[i * 70 + k] * W.data[j * 70 + k];
      err += (Y.data[i * 30 + j] - ref) * (Y.data[i * 30 + j] - ref);
      norm += ref * ref;
    }
  CHECK(std::sqrt(err / norm) < 1e-6);  // float32 engine vs float64 reference
  CHECK(ro.attr_double("/counters", "tiles") == 3 * 2);
  CHECK(ro.attr_string("/config", "mapping.tile_rows") == "32");
  std::remove(in.c_str());
  std::remove(out.c_str());
}

TEST_CASE("xbar mvm: bad input gives one clear error line and a non-zero exit") {
  const std::string in = tmp("bad.h5"), out = tmp("bad_out.h5"), toml = tmp("bad.toml");
  write_case(in, 4, 6, 2);
  struct Case {
    std::string args, expect;
  };
  std::ofstream(toml) << "[adc]\nbitz = 4\n";
  write_case(tmp("nan.h5"), 4, 6, 2, true);
  {
    h5::Writer w(tmp("shape.h5"));
    w.write("W", std::vector<double>(12, 1.0), {3, 4});
    w.write("X", std::vector<double>(10, 1.0), {2, 5});
    w.close();
  }
  const std::vector<Case> cases = {
      {"mvm --in /nonexistent.h5 --out " + out, "/nonexistent.h5"},
      {"mvm --in " + tmp("nan.h5") + " --out " + out, "W"},
      {"mvm --in " + tmp("shape.h5") + " --out " + out, "X has 5 columns"},
      {"mvm --in " + in + " --out " + out + " --set adc.bits=0 --set dac.bits=-2", "dac.bits = -2"},
      {"mvm --in " + in + " --out " + out + " --set mapping.tile_rows=0", "mapping.tile_rows = 0"},
      {"mvm --in " + in + " --out " + out + " --set device.g_min_uS=40", "device.g_min_uS = 40"},
      {"mvm --in " + in + " --out " + out + " --set device.stuck_at_gmin_rate=-1", "stuck_at_gmin_rate = -1"},
      {"mvm --in " + in + " --out " + out + " --config " + toml, "did you mean adc.bits"},
      {"mvm --in " + in + " --out " + out + " --set adc.bogus=1", "unknown key"},
      {"mvm --in " + in, "--in and --out are required"},
      {"nosuchcommand", "unknown command"},
  };
  for (const auto& c : cases) {
    const Run r = run(c.args);
    INFO(c.args << "\n" << r.out);
    CHECK(r.code != 0);
    CHECK(r.out.find(c.expect) != std::string::npos);
    // One line, no stack traces or HDF5 error dumps.
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') <= 1);
  }
  for (const auto& f : {in, out, toml, tmp("nan.h5"), tmp("shape.h5")}) std::remove(f.c_str());
}

TEST_CASE("xbar --help and mvm --help document every option") {
  const Run top = run("--help");
  CHECK(top.code == 0);
  CHECK(top.out.find("mvm") != std::string::npos);
  const Run r = run("mvm --help");
  CHECK(r.code == 0);
  for (const char* k : {"--in", "--out", "--config", "--set", "adc.bits [bit]", "device.g_max_uS [uS]", "run.seed", "wires.r_row_ohm [ohm]"})
    CHECK_MESSAGE(r.out.find(k) != std::string::npos, k);
}
