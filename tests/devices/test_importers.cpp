// CSV importers (a)-(d), the combined import into a validated file with provenance, sha256, and
// bad CSV input (missing columns, text in numbers, ...): clear errors naming file and line.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "devices/device_file.h"
#include "devices/importers.h"
#include "common/sha256.h"
#include "devices/table_device.h"

namespace fs = std::filesystem;
using namespace xbar;

namespace {

std::string tmp(const std::string& name) {
  static fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("xbar_test_importers_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return (d / name).string();
}

std::string write_text(const std::string& name, const std::string& text) {
  const std::string p = tmp(name);
  std::ofstream(p) << text;
  return p;
}

// Expects a FileError whose message contains every fragment.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    FAIL("no error");
  } catch (const FileError& e) {
    const std::string m = e.what();
    for (const auto& s : fragments) CHECK_MESSAGE(m.find(s) != std::string::npos, "'" << s << "' not in: " << m);
  }
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
double sd(const std::vector<double>& v) {
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

}  // namespace

TEST_CASE("sha256 matches the FIPS 180-4 test vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const std::string p = write_text("hash.txt", "abc");
  CHECK(sha256_file(p) == sha256_hex("abc"));
  CHECK_THROWS_AS(sha256_file(tmp("nope.txt")), FileError);
}

TEST_CASE("CSV reader: header optional, aliases, comments, CRLF, column order from the header") {
  auto p = write_text("a.csv", "# comment\n\nmean,state,std\r\n2.0,0,0.1\r\n4.5, 1 ,0.2\n");
  auto c = read_csv_columns(p, {{"state"}, {"mean"}, {"std"}});
  REQUIRE(c.rows() == 2);
  CHECK(c.cols[0] == std::vector<double>{0, 1});
  CHECK(c.cols[1] == std::vector<double>{2.0, 4.5});
  CHECK(c.line == std::vector<size_t>{4, 5});
  auto q = write_text("b.csv", "0,2.0,0.1\n1,4.5,0.2\n");
  auto d = read_csv_columns(q, {{"state"}, {"mean"}, {"std"}});
  CHECK(d.cols[1] == std::vector<double>{2.0, 4.5});
  CHECK(units_to_uS("S") == 1e6);
  CHECK(units_to_uS("uS") == 1);
  CHECK_THROWS_AS(units_to_uS("mS"), ConfigError);
}

TEST_CASE("bad CSVs: missing columns, text in numbers, short rows, empty files name file and line") {
  const auto missing = write_text("missing.csv", "state,mean\n0,1\n");
  expect_error([&] { import_levels_csv(missing, 1); }, {missing + ":1:", "missing column 'std'"});
  const auto text = write_text("text.csv", "state,mean,std\n0,1.0,0.1\n1,abc,0.1\n");
  expect_error([&] { import_levels_csv(text, 1); }, {text + ":3:", "column 'mean'", "'abc' is not a number"});
  const auto unit_suffix = write_text("suffix.csv", "target_uS,measured_uS\n1,1.1uS\n");
  expect_error([&] { import_raw_csv(unit_suffix, 1); }, {unit_suffix + ":2:", "'1.1uS' is not a number"});
  const auto nan = write_text("nan.csv", "g_uS,read_uS\n1,nan\n1,1\n");
  expect_error([&] { import_read_csv(nan, 1, 4); }, {nan + ":2:", "not a finite number"});
  const auto shortrow = write_text("short.csv", "g0_uS,t_s,g_uS\n10,1,9.9\n10,2\n");
  expect_error([&] { import_drift_csv(shortrow, 1, 20, 4); }, {shortrow + ":3:", "expected 3 fields", "found 2"});
  const auto empty = write_text("empty.csv", "# nothing here\n");
  expect_error([&] { import_raw_csv(empty, 1); }, {empty, "no data rows"});
  // Physically impossible conductances name the row, column and value.
  const auto negative = write_text("negative.csv", "target_uS,measured_uS\n10,9.9\n10,-3\n");
  expect_error([&] { import_raw_csv(negative, 1); }, {negative + ":3:", "column 'measured_uS' = -3 is negative"});
  const auto neg_read = write_text("neg_read.csv", "g_uS,read_uS\n-1,1\n1,1\n");
  expect_error([&] { import_read_csv(neg_read, 1, 4); }, {neg_read + ":2:", "column 'g_uS' = -1 is negative"});
  // 20 "uS" read as siemens: 2e7 uS = 20 S.
  const auto siemens = write_text("siemens.csv", "state,mean,std\n0,1e-6,1e-7\n1,20,1e-7\n");
  expect_error([&] { import_levels_csv(siemens, 1e6); }, {siemens + ":3:", "column 'mean' = 20 is 2e+07 uS, above 1 S"});
  const auto header_only = write_text("header_only.csv", "target_uS,measured_uS\n");
  expect_error([&] { import_raw_csv(header_only, 1); }, {header_only, "no data rows"});
  expect_error([&] { import_raw_csv(tmp("absent.csv"), 1); }, {"absent.csv", "cannot open"});
  const auto neg = write_text("neg.csv", "state,mean,std\n0,1,-0.1\n");
  expect_error([&] { import_levels_csv(neg, 1); }, {neg + ":2:", "negative"});
  const auto dup = write_text("dup.csv", "state,mean,std\n0,1,0.1\n1,1,0.1\n");
  expect_error([&] { import_levels_csv(dup, 1); }, {dup + ":", "appears twice"});
  const auto single = write_text("single.csv", "target_uS,measured_uS\n1,1.1\n1,1.0\n5,5.2\n");
  expect_error([&] { import_raw_csv(single, 1); }, {single + ":4:", "single measurement"});
  const auto one_read = write_text("one_read.csv", "g_uS,read_uS\n1,1.01\n1,0.99\n2,2.0\n");
  expect_error([&] { import_read_csv(one_read, 1, 4); }, {one_read + ":4:", "single read"});
  const auto neg_g = write_text("neg_g.csv", "g0_uS,t_s,g_uS\n10,1,9.9\n10,2,-1\n");
  expect_error([&] { import_drift_csv(neg_g, 1, 20, 4); }, {neg_g + ":3:", "must be > 0"});
  const auto no_t = write_text("no_t.csv", "g0_uS,t_s,g_uS\n10,0,10\n");
  expect_error([&] { import_drift_csv(no_t, 1, 20, 4); }, {no_t, "no device has a reading at t_s > 0"});
  // combined import: argument errors are ConfigErrors
  ImportOptions opt;
  opt.name = "x";
  CHECK_THROWS_AS(import_device(ImportInputs{}, opt), ConfigError);
  CHECK_THROWS_AS(import_device(ImportInputs{missing, missing, "", ""}, opt), ConfigError);
  opt.units = "mS";
  CHECK_THROWS_AS(import_device(ImportInputs{"", "", "", write_text("r.csv", "1,1\n1,1.1\n")}, opt), ConfigError);
}

TEST_CASE("(a) levels CSV: per-state table, unsorted input, siemens") {
  auto p = write_text("levels.csv", "state,mean,std\n2,20e-6,1.0e-6\n0,2e-6,0.2e-6\n1,10e-6,0.8e-6\n");
  auto f = import_levels_csv(p, units_to_uS("S"));
  REQUIRE(f.g_uS.size() == 3);
  CHECK(f.g_uS[0] == doctest::Approx(2));
  CHECK(f.g_uS[2] == doctest::Approx(20));
  CHECK(f.sigma_uS[1] == doctest::Approx(0.8));
  CHECK(f.report.find("3 states") != std::string::npos);
}

TEST_CASE("(b) raw CSV: levels binned, sigma fitted, empirical sampling reproduces the data") {
  // 4 levels; level 3 is strongly skewed (lognormal), counts differ between levels.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n01;
  const std::vector<double> targets = {2, 10, 20, 30};
  const std::vector<double> sig = {0.3, 1.0, 1.5, 0.8};
  const std::vector<int> counts = {3000, 2800, 3000, 2900};
  std::ostringstream os;
  os << "target_uS,measured_uS\n";
  std::vector<std::vector<double>> truth(4);
  for (size_t l = 0; l < 4; ++l)
    for (int i = 0; i < counts[l]; ++i) {
      double m = l == 3 ? targets[l] - 1.0 + std::exp(0.6 * n01(rng)) * 1.0 : targets[l] + sig[l] * n01(rng);
      truth[l].push_back(m);
      os << targets[l] << "," << m << "\n";
    }
  auto p = write_text("raw.csv", os.str());
  auto f = import_raw_csv(p, 1.0);
  REQUIRE(f.target_uS.size() == 4);
  CHECK(f.n_common == 2800);
  CHECK(f.samples_uS.size() == 4 * 2800);
  for (size_t l = 0; l < 3; ++l) {
    CAPTURE(l);
    CHECK(f.target_uS[l] == targets[l]);
    // sample sigma within 4 standard errors (sd of s ~ sigma / sqrt(2n))
    CHECK(std::abs(f.sigma_uS[l] - sig[l]) < 4 * sig[l] / std::sqrt(2.0 * counts[l]));
    CHECK(std::abs(f.mean_offset_uS[l]) < 4 * sig[l] / std::sqrt(double(counts[l])));
    CHECK(f.ks_normal[l] < 0.03);
  }
  CHECK(f.ks_normal[3] > 0.05);  // the skewed level is flagged as non-normal
  CHECK(f.report.find("resampled to 2800") != std::string::npos);

  // The table model samples the skewed level empirically: mean, std and skewness are kept.
  ImportOptions opt;
  opt.name = "raw";
  opt.source = "unit test";
  auto res = import_device(ImportInputs{"", p, "", ""}, opt);
  const std::string h5 = tmp("raw.h5");
  write_device_file(h5, res.tables);
  TableDevice d(read_device_file(h5));
  CHECK(d.levels_uS() == f.target_uS);
  CHECK(d.g_min_uS() == 2);
  CHECK(d.g_max_uS() == 30);
  const int n = 20000;
  std::uniform_real_distribution<double> U(0.0, 1.0);
  for (size_t l = 0; l < 4; ++l) {
    std::vector<double> draws;
    for (int i = 0; i < n; ++i) draws.push_back(d.program(targets[l], n01(rng), U(rng)));
    const double tm = mean(truth[l]), ts = sd(truth[l]);
    CAPTURE(l);
    CHECK(std::abs(mean(draws) - tm) < 4 * ts * std::sqrt(1.0 / n + 1.0 / counts[l]));
    CHECK(std::abs(sd(draws) - ts) < 4 * ts * std::sqrt(1.0 / (2.0 * n) + 1.0 / (2.0 * counts[l])) + 0.02 * ts);
  }
  {  // skewness of the lognormal level survives (a Gaussian model would give 0)
    std::vector<double> draws;
    for (int i = 0; i < n; ++i) draws.push_back(d.program(30, 0.0, U(rng)));
    const double m = mean(draws), s = sd(draws);
    double sk = 0;
    for (double x : draws) sk += std::pow((x - m) / s, 3);
    sk /= n;
    CHECK(sk > 1.0);
  }
}

TEST_CASE("(c) drift CSV: per-device exponents binned by G") {
  // 400 devices, nu ~ N(0.08 - 0.002 G, 0.01), read at 5 times; t0 = 20 s; no read noise.
  std::mt19937_64 rng(9);
  std::normal_distribution<double> n01;
  std::uniform_real_distribution<double> ug(1, 25);
  std::ostringstream os;
  os << "g0_uS,t_s,g_uS\n";
  std::vector<double> g0s, nus;
  for (int d = 0; d < 400; ++d) {
    const double g0 = ug(rng), nu = 0.08 - 0.002 * g0 + 0.01 * n01(rng);
    g0s.push_back(g0);
    nus.push_back(nu);
    for (double t : {0.0, 10.0, 100.0, 1000.0, 10000.0}) {
      os.precision(12);
      os << g0 << "," << t << "," << g0 * std::pow((t + 20) / 20, -nu) << "\n";
    }
  }
  auto p = write_text("drift.csv", os.str());
  auto f = import_drift_csv(p, 1.0, 20.0, 5);
  CHECK(f.devices == 400);
  CHECK(f.r2 > 0.999999);
  REQUIRE(f.g_uS.size() == 5);
  for (size_t b = 0; b < 5; ++b) {
    CAPTURE(b);
    CHECK(f.devices_per_bin[b] == 80);
    // expected mean nu at the bin centre (linear in G, so the bin mean of 0.08 - 0.002 G)
    const double se = 0.01 / std::sqrt(80.0);
    CHECK(std::abs(f.nu_mean[b] - (0.08 - 0.002 * f.g_uS[b])) < 4 * se);
    // spread: 0.01 plus the spread of the linear trend inside a 4.8 uS wide bin (~0.0028)
    CHECK(f.nu_std[b] == doctest::Approx(std::sqrt(0.01 * 0.01 + 0.0028 * 0.0028)).epsilon(0.25));
  }
  CHECK(f.g_uS.front() < f.g_uS.back());
}

TEST_CASE("(c) drift CSV whose fitted exponent no device file may hold is refused, naming file, device and value") {
  // Times of 1 ms read as seconds: a 10% drop within 1 ms of t0 = 20 s fits nu = -ln(0.9) / ln(20.001 / 20),
  // about 2107, beyond the device-file bound of 1000 on exponents.
  auto p = write_text("drift_ms.csv", "g0_uS,t_s,g_uS\n10,0,10\n10,0.001,9\n");
  expect_error([&] { import_drift_csv(p, 1.0, 20.0, 1); },
               {p, "g0_uS = 10", "fitted drift exponent nu = 2107", "exceeds 1000", "check the t_s"});
}

TEST_CASE("(d) read-noise CSV: per-device std of repeated reads, binned by G") {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> n01;
  std::ostringstream os;
  os << "g_uS,read_uS\n";
  os.precision(12);
  for (int d = 0; d < 60; ++d) {
    const double g = 1.0 + d * 0.5;  // 1 .. 30.5 uS
    for (int r = 0; r < 200; ++r) os << g << "," << g + (0.05 + 0.02 * g) * n01(rng) << "\n";
  }
  auto p = write_text("read.csv", os.str());
  auto f = import_read_csv(p, 1.0, 6);
  CHECK(f.devices == 60);
  REQUIRE(f.g_uS.size() == 6);
  for (size_t b = 0; b < 6; ++b) {
    // rms of sigma over the 10 devices of the bin; ~2000 reads -> ~1.6% standard error
    double v = 0;
    for (int k = 0; k < 10; ++k) {
      const double g = 1.0 + (b * 10 + k) * 0.5;
      v += std::pow(0.05 + 0.02 * g, 2);
    }
    CHECK(f.sigma_uS[b] == doctest::Approx(std::sqrt(v / 10)).epsilon(0.07));
  }
  CHECK(f.lin_a == doctest::Approx(0.05).epsilon(0.5));
  CHECK(f.lin_b == doctest::Approx(0.02).epsilon(0.05));
  CHECK(f.lin_r2 > 0.95);
}

TEST_CASE("combined import writes a valid file with provenance hashes; siemens input") {
  auto raw = write_text("r_S.csv", "target_S,measured_S\n1e-5,1.1e-5\n1e-5,0.9e-5\n2e-5,2.2e-5\n2e-5,1.8e-5\n2e-5,2.0e-5\n");
  auto read = write_text("rd_S.csv", "1e-5,1.01e-5\n1e-5,0.99e-5\n2e-5,2.02e-5\n2e-5,1.98e-5\n");
  auto drift = write_text("dr_S.csv", "g0_S,t_s,g_S\n1e-5,100,0.9e-5\n2e-5,100,1.9e-5\n");
  ImportOptions opt;
  opt.name = "combo";
  opt.technology = "rram";
  opt.citation = "unit test";
  opt.units = "S";
  opt.g_min_uS = 0;
  opt.g_max_uS = 25;
  auto res = import_device(ImportInputs{"", raw, drift, read}, opt);
  const std::string h5 = tmp("combo.h5");
  write_device_file(h5, res.tables);
  auto problems = validate_device_file(h5);
  INFO(format_problems(h5, problems));
  CHECK(problems.empty());
  auto t = read_device_file(h5);
  CHECK(t.levels_uS == std::vector<double>{10, 20});
  CHECK(t.g_max_uS == 25);
  CHECK(t.prog_sigma_uS[0] == doctest::Approx(std::sqrt(2.0)));
  CHECK(t.read_g_uS.size() == 2);
  CHECK(t.drift_t0_s == 20);
  REQUIRE(t.inputs.size() == 3);
  CHECK(t.inputs[0].role == "raw");
  CHECK(t.inputs[0].sha256 == sha256_file(raw));
  CHECK(t.inputs[1].role == "drift");
  CHECK(t.inputs[2].sha256 == sha256_file(read));
  CHECK(t.tool == "xbar device import");
  CHECK_FALSE(t.date.empty());
  CHECK(res.report.find("raw CSV") != std::string::npos);
}

TEST_CASE("CLI: xbar device import/validate/show end to end (needs XBAR_BIN, set by ctest)") {
  const char* bin = std::getenv("XBAR_BIN");
  if (!bin || !fs::exists(bin)) {
    MESSAGE("XBAR_BIN not set or missing: CLI test skipped");
    return;
  }
  const std::string x = bin;
  auto raw = write_text("cli_raw.csv", "target_uS,measured_uS\n5,5.1\n5,4.9\n5,5.05\n20,19\n20,21\n20,20.5\n");
  const std::string h5 = tmp("cli.h5"), log = tmp("cli.log");
  auto run = [&](const std::string& args) {
    int rc = std::system((x + " device " + args + " > " + log + " 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  auto out = [&] {
    std::ifstream in(log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  CHECK(run("import --out " + h5 + " --name cli --source test --raw-csv " + raw) == 0);
  CHECK(run("validate " + h5) == 0);
  CHECK(run("show " + h5) == 0);
  CHECK(out().find("2 levels") != std::string::npos);
  auto bad = write_text("cli_bad.csv", "target_uS,measured_uS\n5,5.1\n5,oops\n");
  CHECK(run("import --out " + tmp("cli_bad.h5") + " --name b --source t --raw-csv " + bad) != 0);
  CHECK(out().find(bad + ":3:") != std::string::npos);
  const std::string notdev = write_text("cli_not.h5", "not hdf5");
  CHECK(run("validate " + h5 + " " + notdev) == 1);
  CHECK(out().find("cli_not.h5: 1 problem") != std::string::npos);
  CHECK(run("import --help") == 0);
  CHECK(out().find("--units") != std::string::npos);
}
