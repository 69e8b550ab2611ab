// The CLI under hostile conditions: empty batches with calibrated ADCs, a full disk while writing
// each kind of output, outputs naming inputs, directories and devices given as files, bad counts,
// converted models given again, values beyond float32. Every failure is one clear line with exit
// code 2, the old output byte-identical and no temporary left.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "common/h5io.h"
#include "tests/tools/cli_run.h"

using namespace xbar;
using test::Run;
namespace fs = std::filesystem;

namespace {

std::string src(const std::string& rel) { return std::string(XBAR_SOURCE_DIR) + "/" + rel; }

std::string dir() {
  static const std::string d = [] {
    const fs::path p = fs::temp_directory_path() / ("xbar_cli_rel_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
  }();
  return d;
}
std::string tmp(const std::string& name) { return dir() + "/" + name; }

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Files in dir() whose name contains ".tmp-" (unpublished temporaries).
int temporaries() {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir())) n += e.path().filename().string().find(".tmp-") != std::string::npos;
  return n;
}

void write_mvm_case(const std::string& path, int out, int in, int batch, double w_scale = 1, double x_scale = 1) {
  std::mt19937 g(7);
  std::normal_distribution<double> n;
  std::vector<double> W(size_t(out) * in), X(size_t(batch) * in);
  for (auto& v : W) v = w_scale * n(g);
  for (auto& v : X) v = x_scale * n(g);
  h5::Writer w(path);
  w.write("W", W, {size_t(out), size_t(in)});
  w.write("X", X, {size_t(batch), size_t(in)});
  w.close();
}

// A failed run: exit code 2 (bad input or environment, not a signal), one line naming `expect`.
void check_clean_failure(const Run& r, const std::string& expect) {
  INFO(r.out);
  CHECK(r.code == 2);
  CHECK(r.out.find(expect) != std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') <= 1);
}

const char* kCalibrated = "--set adc.range=calibrated --set adc.bits=6 --set device.model=pcm";

}  // namespace

TEST_CASE("mvm: calibrated ADC with an empty batch reads an empty Y; an empty calibration file is an error") {
  write_mvm_case(tmp("empty.h5"), 5, 8, 0);
  write_mvm_case(tmp("some.h5"), 5, 8, 3);
  const Run ok = test::run_xbar(std::string("mvm --in ") + tmp("empty.h5") + " --out " + tmp("y.h5") + " " + kCalibrated);
  INFO(ok.out);
  REQUIRE(ok.code == 0);
  const h5::Array Y = h5::Reader(tmp("y.h5")).read("Y", 2);
  CHECK(Y.shape == std::vector<size_t>{0, 5});
  check_clean_failure(test::run_xbar(std::string("mvm --in ") + tmp("some.h5") + " --out " + tmp("y.h5") + " --calibrate " +
                                     tmp("empty.h5") + " " + kCalibrated),
                      "X has 0 rows");
}

TEST_CASE("mvm: --out naming an input is refused and the input kept") {
  write_mvm_case(tmp("in.h5"), 4, 6, 2);
  const std::string before = slurp(tmp("in.h5"));
  fs::create_symlink(tmp("in.h5"), tmp("link.h5"));
  check_clean_failure(test::run_xbar("mvm --in " + tmp("in.h5") + " --out " + tmp("in.h5")), "is the same file as --in");
  check_clean_failure(test::run_xbar("mvm --in " + tmp("in.h5") + " --out " + tmp("link.h5")), "is the same file as --in");
  check_clean_failure(test::run_xbar("mvm --in " + tmp("in.h5") + " --calibrate " + tmp("in.h5") + " --out " + tmp("in.h5")),
                      "is the same file");
  CHECK(slurp(tmp("in.h5")) == before);
}

TEST_CASE("a full disk: mvm, convert and device import fail cleanly and keep the old output") {
  // Old outputs first, written without a limit.
  write_mvm_case(tmp("small.h5"), 4, 6, 2);
  write_mvm_case(tmp("large.h5"), 64, 64, 4096);  // Y: 1 MiB
  REQUIRE(test::run_xbar("mvm --in " + tmp("small.h5") + " --out " + tmp("mvm_out.h5")).code == 0);
  REQUIRE(test::run_xbar("convert " + src("data/models/cnn7k.pt") + " --policy " + src("data/policies/ideal.toml") +
                         " -o " + tmp("model_out.pt")).code == 0);
  const std::string import_args = "device import -q --name unit --source test --raw-csv " +
                                  src("data/devices/rram_measured_raw.csv") + " -o " + tmp("device_out.h5");
  REQUIRE(test::run_xbar(import_args).code == 0);
  struct Case {
    std::string name, args, output;
    size_t limit;
  };
  const Case cases[] = {
      {"mvm", "mvm --in " + tmp("large.h5") + " --out " + tmp("mvm_out.h5"), tmp("mvm_out.h5"), 256 << 10},
      {"convert", "convert " + src("data/models/mlp.pt") + " --policy " + src("data/policies/ideal.toml") + " -o " +
                      tmp("model_out.pt"), tmp("model_out.pt"), 256 << 10},
      {"device import", import_args, tmp("device_out.h5"), 4 << 10},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const std::string old = slurp(c.output);
    REQUIRE(!old.empty());
    const Run r = test::run_xbar_limited(c.args, c.limit, tmp("log.txt"));
    INFO(r.out);
    CHECK(r.code > 0);
    CHECK(r.code < 128);
    CHECK(r.out.find("File too large") != std::string::npos);
    CHECK(slurp(c.output) == old);
    CHECK(temporaries() == 0);
  }
}

TEST_CASE("inputs that are not regular files, bad counts, converted models and float32 overflow are refused") {
  write_mvm_case(tmp("ok.h5"), 4, 6, 2);
  {
    h5::Writer w(tmp("huge_w.h5"));  // float64 values beyond float32
    w.write("W", std::vector<double>(24, 1e300), {4, 6});
    w.write("X", std::vector<double>(12, 1.0), {2, 6});
    w.close();
  }
  write_mvm_case(tmp("near_max.h5"), 4, 6, 2, 1e37, 1e37);
  const std::string mvm = "mvm --in " + tmp("ok.h5") + " --out " + tmp("o.h5");
  check_clean_failure(test::run_xbar(mvm + " --config " + dir()), "--config " + dir() + ": is a directory");
  check_clean_failure(test::run_xbar(mvm + " --config /dev/zero"), "--config /dev/zero: is not a regular file");
  check_clean_failure(test::run_xbar("convert " + src("data/models/cnn7k.pt") + " --policy " + dir() + " -o " + tmp("c.pt")),
                      "policy " + dir() + ": is a directory");
  check_clean_failure(test::run_xbar("mvm --in " + tmp("huge_w.h5") + " --out " + tmp("o.h5")),
                      "dataset W[0][0] = 1e+300 overflows float32");
  check_clean_failure(test::run_xbar("mvm --in " + tmp("near_max.h5") + " --out " + tmp("o.h5")),
                      "first non-finite stage: digital unscaling");
  check_clean_failure(test::run_xbar("eval --model " + src("data/models/cnn7k.pt") + " --samples -5"), "samples = -5: must be >= 0");
  // A converted model given again: refused before anything runs.
  REQUIRE(test::run_xbar("convert " + src("data/models/cnn7k.pt") + " --policy " + src("data/policies/ideal.toml") +
                         " -o " + tmp("converted.pt")).code == 0);
  check_clean_failure(test::run_xbar("eval --model " + tmp("converted.pt") + " --samples 10 --repeats 1"), "already converted");
  check_clean_failure(test::run_xbar("convert " + tmp("converted.pt") + " --policy " + src("data/policies/ideal.toml") +
                                     " -o " + tmp("twice.pt")),
                      "already converted");
  CHECK_FALSE(fs::exists(tmp("twice.pt")));
}

TEST_CASE("eval --cost-csv: written whole with one row per layer; an unwritable path is one error line, no temporary") {
  const std::string eval = "eval --model " + src("data/models/cnn7k.pt") + " --policy " + src("data/policies/default.toml") +
                           " --samples 20 --repeats 1 --cost-csv ";
  const Run ok = test::run_xbar(eval + tmp("cost.csv"));
  INFO(ok.out);
  REQUIRE(ok.code == 0);
  const std::string csv = slurp(tmp("cost.csv"));
  CHECK(csv.rfind("layer,", 0) == 0);
  CHECK(csv.find("energy_pJ") != std::string::npos);
  CHECK(std::count(csv.begin(), csv.end(), '\n') >= 2);  // header and at least one layer
  CHECK(temporaries() == 0);

  const std::string missing = tmp("no_such_dir") + "/cost.csv";
  const Run bad = test::run_xbar(eval + missing);
  INFO(bad.out);
  CHECK(bad.code == 2);
  CHECK(bad.out.find(missing + ": cannot create a temporary file in directory") != std::string::npos);
  CHECK_FALSE(fs::exists(missing));
}
