// HDF5 device files: round trip, validator (a corpus of broken files built here, every problem
// reported with its path, never a crash), table-driven model behaviour, and the statistical
// equivalence of the tabulated PCM file with the parametric PcmDevice.
#include <doctest/doctest.h>

#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/h5io.h"
#include "devices/device_file.h"
#include "devices/importers.h"
#include "devices/pcm.h"
#include "devices/rram.h"
#include "devices/table_device.h"

namespace fs = std::filesystem;
using namespace xbar;

namespace {

fs::path tmpdir() {
  static fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("xbar_test_device_file_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}
std::string tmp(const std::string& name) { return (tmpdir() / name).string(); }

// A small valid file with every group, including raw samples and an I-V table.
DeviceTables full_tables() {
  DeviceTables t;
  t.name = "unit";
  t.technology = "rram";
  t.source = "unit test";
  t.citation = "none";
  t.g_min_uS = 1.0;
  t.g_max_uS = 40.0;
  t.levels_uS = {1, 14, 27, 40};
  t.prog_g_uS = {1, 14, 27, 40};
  t.prog_sigma_uS = {0.5, 1.5, 1.5, 0.8};
  t.prog_samples_n = 5;
  t.prog_samples_uS = {0.4, 0.8, 1.0, 1.2, 1.6,  13, 13.5, 14, 14.5, 15,  25, 26, 27, 28, 29,  39, 39.5, 40, 40.5, 41};
  t.read_g_uS = {0, 40};
  t.read_sigma_uS = {0, 0.4};
  t.read_time_model = "power";
  t.read_t_ref_s = 1.0;
  t.read_time_exponent = 0.05;
  t.read_scales_with_drift = true;
  t.drift_g_uS = {1, 40};
  t.drift_nu_mean = {0.05, 0.01};
  t.drift_nu_std = {0.01, 0.002};
  t.drift_t0_s = 20;
  t.stuck_at_gmin_rate = 0.001;
  t.stuck_at_gmax_rate = 0.002;
  t.iv_v_V = {-0.2, 0, 0.2};
  t.iv_i_per_g = {-0.21, 0, 0.21};
  t.inputs.push_back({"raw", "x.csv", std::string(64, 'a')});
  t.date = "2024-01-01T00:00:00Z";
  return t;
}

std::string valid_file(const std::string& name) {
  const std::string p = tmp(name);
  write_device_file(p, full_tables());
  return p;
}

// Low-level edits with the HDF5 C API to build broken files from a valid one.
struct Edit {
  hid_t f;
  explicit Edit(const std::string& p) : f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) { REQUIRE(f >= 0); }
  ~Edit() { H5Fclose(f); }
  void del(const std::string& obj) { REQUIRE(H5Ldelete(f, obj.c_str(), H5P_DEFAULT) >= 0); }
  void dataset(const std::string& obj, const std::vector<double>& v, std::vector<hsize_t> shape,
               const std::string& units = "uS") {
    if (H5Lexists(f, obj.c_str(), H5P_DEFAULT) > 0) del(obj);
    hid_t sp = shape.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(shape.size()), shape.data(), nullptr);
    hid_t d = H5Dcreate2(f, obj.c_str(), H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(d >= 0);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Sclose(sp);
    if (!units.empty()) attr(obj, "units", units);
  }
  void string_dataset(const std::string& obj) {
    if (H5Lexists(f, obj.c_str(), H5P_DEFAULT) > 0) del(obj);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 8);
    hsize_t n = 2;
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f, obj.c_str(), t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char data[16] = "0.1\0\0\0\0\0zero";
    H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    attr(obj, "units", "uS");
  }
  void attr(const std::string& obj, const std::string& name, const std::string& v) {
    if (H5Aexists_by_name(f, obj.c_str(), name.c_str(), H5P_DEFAULT) > 0)
      H5Adelete_by_name(f, obj.c_str(), name.c_str(), H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, v.size() + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f, obj.c_str(), name.c_str(), t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, v.c_str());
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
  }
  void attr(const std::string& obj, const std::string& name, double v) {
    if (H5Aexists_by_name(f, obj.c_str(), name.c_str(), H5P_DEFAULT) > 0)
      H5Adelete_by_name(f, obj.c_str(), name.c_str(), H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f, obj.c_str(), name.c_str(), H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    H5Sclose(sp);
  }
  void del_attr(const std::string& obj, const std::string& name) {
    REQUIRE(H5Adelete_by_name(f, obj.c_str(), name.c_str(), H5P_DEFAULT) >= 0);
  }
};

bool has_problem(const std::vector<FileProblem>& p, const std::string& where, const std::string& what) {
  for (const auto& q : p)
    if (q.where == where && q.what.find(what) != std::string::npos) return true;
  return false;
}

std::string dump(const std::vector<FileProblem>& p) { return format_problems("file", p); }

// Every way of using a broken file must end in a FileError naming the file, never a crash.
void expect_rejected(const std::string& path) {
  CHECK_FALSE(validate_device_file(path).empty());
  try {
    read_device_file(path);
    FAIL("read_device_file accepted a broken file");
  } catch (const FileError& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
  DeviceConfig cfg;
  cfg.model = DeviceKind::file;
  cfg.file = path;
  CHECK_THROWS_AS(make_device(cfg), FileError);
}

std::vector<char> bytes_of(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& p, const std::vector<char>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(b.data(), std::streamsize(b.size()));
}

}  // namespace

TEST_CASE("device file: write, validate and read back every group") {
  const std::string p = valid_file("full.h5");
  auto problems = validate_device_file(p);
  INFO(dump(problems));
  CHECK(problems.empty());
  DeviceTables a = full_tables(), b = read_device_file(p);
  CHECK(b.name == a.name);
  CHECK(b.technology == a.technology);
  CHECK(b.source == a.source);
  CHECK(b.g_min_uS == a.g_min_uS);
  CHECK(b.g_max_uS == a.g_max_uS);
  CHECK(b.levels_uS == a.levels_uS);
  CHECK(b.prog_g_uS == a.prog_g_uS);
  CHECK(b.prog_sigma_uS == a.prog_sigma_uS);
  CHECK(b.prog_samples_uS == a.prog_samples_uS);
  CHECK(b.prog_samples_n == a.prog_samples_n);
  CHECK(b.read_g_uS == a.read_g_uS);
  CHECK(b.read_sigma_uS == a.read_sigma_uS);
  CHECK(b.read_time_model == "power");
  CHECK(b.read_time_exponent == doctest::Approx(0.05));
  CHECK(b.read_scales_with_drift);
  CHECK(b.drift_nu_mean == a.drift_nu_mean);
  CHECK(b.drift_nu_std == a.drift_nu_std);
  CHECK(b.drift_t0_s == 20);
  CHECK(b.stuck_at_gmin_rate == 0.001);
  CHECK(b.stuck_at_gmax_rate == 0.002);
  CHECK(b.iv_v_V == a.iv_v_V);
  CHECK(b.iv_i_per_g == a.iv_i_per_g);
  REQUIRE(b.inputs.size() == 1);
  CHECK(b.inputs[0].name == "x.csv");
  CHECK(b.inputs[0].sha256 == std::string(64, 'a'));
  CHECK(b.date == a.date);

  // Every dataset carries a units attribute (the schema's promise to h5py users).
  h5::Reader r(p);
  for (const char* ds : {"/conductance/g_min_uS", "/conductance/g_max_uS", "/conductance/levels_uS", "/programming/g_target_uS",
                         "/programming/sigma_uS", "/programming/samples_uS", "/read_noise/g_uS", "/read_noise/sigma_uS",
                         "/drift/g_uS", "/drift/nu_mean", "/drift/nu_std", "/faults/stuck_at_gmin_rate",
                         "/faults/stuck_at_gmax_rate", "/iv/v_V", "/iv/i_per_g"})
    CHECK_MESSAGE(r.has_attr(ds, "units"), ds);
  CHECK(r.attr_string("/", "schema") == "xbar-device");
  CHECK(r.attr_double("/", "schema_version") == 1);
}

TEST_CASE("device file: writing invalid tables is refused and leaves no file") {
  DeviceTables t = full_tables();
  t.prog_sigma_uS[1] = -1;
  const std::string p = tmp("refused.h5");
  CHECK_THROWS_AS(write_device_file(p, t), FileError);
  CHECK_FALSE(fs::exists(p));
}

TEST_CASE("device file: broken-file corpus, each problem named with its dataset path") {
  struct Case {
    const char* name;
    void (*edit)(Edit&);
    const char* where;
    const char* what;
  };
  const Case cases[] = {
      {"unknown schema version", [](Edit& e) { e.attr("/", "schema_version", 2.0); }, "/@schema_version", "unknown schema version 2"},
      {"wrong schema", [](Edit& e) { e.attr("/", "schema", std::string("other")); }, "/@schema", "expected \"xbar-device\""},
      {"missing name", [](Edit& e) { e.del_attr("/", "name"); }, "/@name", "missing"},
      {"no source or citation", [](Edit& e) { e.del_attr("/", "source"), e.del_attr("/", "citation"); }, "/@source", "neither"},
      {"g_min >= g_max", [](Edit& e) { e.dataset("/conductance/g_min_uS", {50.0}, {}); }, "/conductance/g_max_uS", "must be below"},
      {"missing g_max", [](Edit& e) { e.del("/conductance/g_max_uS"); }, "/conductance/g_max_uS", "required dataset is missing"},
      {"missing conductance group", [](Edit& e) { e.del("/conductance"); }, "/conductance", "required group is missing"},
      {"g_max not a scalar", [](Edit& e) { e.dataset("/conductance/g_max_uS", {1, 2, 3}, {3}); }, "/conductance/g_max_uS", "expected a scalar"},
      {"wrong rank (2-D grid)", [](Edit& e) { e.dataset("/programming/g_target_uS", {1, 14, 27, 40}, {2, 2}); },
       "/programming/g_target_uS", "expected rank 1"},
      {"wrong rank (1-D samples)", [](Edit& e) { e.dataset("/programming/samples_uS", {1, 2, 3}, {3}); },
       "/programming/samples_uS", "expected rank 2"},
      {"wrong dtype (strings)", [](Edit& e) { e.string_dataset("/programming/sigma_uS"); }, "/programming/sigma_uS", "non-numeric"},
      {"unsorted grid", [](Edit& e) { e.dataset("/drift/g_uS", {40, 1}, {2}); }, "/drift/g_uS", "not sorted"},
      {"duplicate grid value", [](Edit& e) { e.dataset("/read_noise/g_uS", {5, 5}, {2}); }, "/read_noise/g_uS", "duplicate value 5"},
      {"negative sigma", [](Edit& e) { e.dataset("/programming/sigma_uS", {0.5, -1.5, 1.5, 0.8}, {4}); },
       "/programming/sigma_uS", "negative"},
      {"negative nu_std", [](Edit& e) { e.dataset("/drift/nu_std", {0.01, -0.1}, {2}, "1"); }, "/drift/nu_std", "negative"},
      {"NaN", [](Edit& e) { e.dataset("/drift/nu_mean", {NAN, 0.01}, {2}, "1"); }, "/drift/nu_mean", "non-finite"},
      {"Inf", [](Edit& e) { e.dataset("/read_noise/sigma_uS", {0, INFINITY}, {2}); }, "/read_noise/sigma_uS", "non-finite"},
      {"length mismatch", [](Edit& e) { e.dataset("/programming/sigma_uS", {0.5, 1.5}, {2}); }, "/programming/sigma_uS",
       "has 2 entries but g_target_uS has 4"},
      {"samples rows mismatch", [](Edit& e) { e.dataset("/programming/samples_uS", {1, 2, 3, 4}, {2, 2}); },
       "/programming/samples_uS", "rows"},
      {"missing units", [](Edit& e) { e.del_attr("/read_noise/g_uS", "units"); }, "/read_noise/g_uS@units", "missing units"},
      {"wrong units", [](Edit& e) { e.attr("/conductance/levels_uS", "units", std::string("S")); }, "/conductance/levels_uS@units",
       "expected \"uS\""},
      {"levels outside range", [](Edit& e) { e.dataset("/conductance/levels_uS", {1, 14, 27, 80}, {4}); }, "/conductance/levels_uS",
       "outside"},
      {"rate above 1", [](Edit& e) { e.dataset("/faults/stuck_at_gmin_rate", {1.5}, {}, "1"); }, "/faults/stuck_at_gmin_rate",
       "[0, 1]"},
      {"bad time model", [](Edit& e) { e.attr("/read_noise", "time_model", std::string("magic")); }, "/read_noise@time_model",
       "expected none, pcm_1f or power"},
      {"missing t0", [](Edit& e) { e.del_attr("/drift", "t0_s"); }, "/drift@t0_s", "missing"},
      {"negative t0", [](Edit& e) { e.attr("/drift", "t0_s", -1.0); }, "/drift@t0_s", "must be > 0"},
      {"typo in dataset name", [](Edit& e) { e.dataset("/drift/nu_stdev", {0.01, 0.002}, {2}, "1"); }, "/drift/nu_stdev",
       "did you mean nu_std"},
      {"bad sha256", [](Edit& e) { e.attr("/provenance", "input_0_sha256", std::string("xyz")); }, "/provenance@input_0_sha256",
       "64 lowercase hex"},
      // Finite but beyond any device; squared (variances) or multiplied they overflow float32.
      {"sigma 1e300", [](Edit& e) { e.dataset("/programming/sigma_uS", {0.5, 1e300, 1.5, 0.8}, {4}); }, "/programming/sigma_uS",
       "value 1e+300 at index 1 exceeds 1e+06 uS (1 S)"},
      {"g_max 1e308", [](Edit& e) { e.dataset("/conductance/g_max_uS", {1e308}, {}); }, "/conductance/g_max_uS",
       "value 1e+308 exceeds 1e+06 uS"},
      {"read sigma 1e20", [](Edit& e) { e.dataset("/read_noise/sigma_uS", {0, 1e20}, {2}); }, "/read_noise/sigma_uS",
       "exceeds 1e+06 uS"},
      {"drift exponent 1e30", [](Edit& e) { e.dataset("/drift/nu_mean", {0.05, 1e30}, {2}, "1"); }, "/drift/nu_mean",
       "exceeds 1000"},
      {"t0 1e300 s", [](Edit& e) { e.attr("/drift", "t0_s", 1e300); }, "/drift@t0_s", "exceeds 1e+12 s"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      const std::string p = valid_file(std::string("broken_") + std::to_string(&c - cases) + ".h5");
      {
        Edit e(p);
        c.edit(e);
      }
      auto problems = validate_device_file(p);
      INFO(c.name << "\n" << dump(problems));
      CHECK(has_problem(problems, c.where, c.what));
      expect_rejected(p);
    }
  }
}

TEST_CASE("device file: the validator collects every problem, not just the first") {
  const std::string p = valid_file("many.h5");
  {
    Edit e(p);
    e.attr("/", "schema_version", 7.0);
    e.dataset("/conductance/g_min_uS", {30.0}, {});
    e.dataset("/conductance/g_max_uS", {20.0}, {});
    e.dataset("/programming/sigma_uS", {0.5, -1.5, 1.5, 0.8}, {4});
    e.dataset("/drift/g_uS", {40, 1}, {2});
    e.dataset("/drift/nu_mean", {NAN, 0.01}, {2}, "1");
    e.string_dataset("/read_noise/sigma_uS");
    e.del_attr("/iv/v_V", "units");
  }
  auto problems = validate_device_file(p);
  INFO(dump(problems));
  CHECK(has_problem(problems, "/@schema_version", "unknown schema version 7"));
  CHECK(has_problem(problems, "/conductance/g_max_uS", "must be below"));
  CHECK(has_problem(problems, "/programming/sigma_uS", "negative"));
  CHECK(has_problem(problems, "/drift/g_uS", "not sorted"));
  CHECK(has_problem(problems, "/drift/nu_mean", "non-finite"));
  CHECK(has_problem(problems, "/read_noise/sigma_uS", "non-numeric"));
  CHECK(has_problem(problems, "/iv/v_V@units", "missing"));
  CHECK(problems.size() >= 7);
  try {
    read_device_file(p);
    FAIL("accepted");
  } catch (const FileError& e) {
    const std::string m = e.what();
    for (const char* s : {"/@schema_version", "/programming/sigma_uS", "/drift/g_uS", "/drift/nu_mean", "/iv/v_V@units"})
      CHECK_MESSAGE(m.find(s) != std::string::npos, s);
  }
}

TEST_CASE("device file: not HDF5, empty, missing and truncated files give a clear error") {
  const std::string missing = tmp("does_not_exist.h5");
  expect_rejected(missing);
  const std::string text = tmp("text.h5");
  write_bytes(text, std::vector<char>{'h', 'e', 'l', 'l', 'o', '\n'});
  expect_rejected(text);
  const std::string empty = tmp("empty.h5");
  write_bytes(empty, {});
  expect_rejected(empty);

  const std::string good = valid_file("to_truncate.h5");
  const auto b = bytes_of(good);
  REQUIRE(b.size() > 2000);
  for (double frac : {0.0, 0.01, 0.1, 0.3, 0.5, 0.8, 0.95, 0.999}) {
    CAPTURE(frac);
    const std::string p = tmp("truncated.h5");
    write_bytes(p, std::vector<char>(b.begin(), b.begin() + long(double(b.size()) * frac)));
    expect_rejected(p);
  }
}

TEST_CASE("device file: byte-level corruption never crashes") {
  const std::string good = valid_file("to_corrupt.h5");
  const auto b = bytes_of(good);
  // The superblock signature: always detected.
  {
    auto c = b;
    c[1] = 'X';
    const std::string p = tmp("corrupt_sig.h5");
    write_bytes(p, c);
    expect_rejected(p);
  }
  // A sweep of 8-byte overwrites across the whole file: each outcome must be a clean rejection or
  // a file that validates (a hit in raw table data can leave plausible numbers) and then loads and
  // evaluates without trouble. A crash fails the whole test binary.
  std::mt19937_64 rng(7);
  int rejected = 0, accepted = 0;
  const size_t step = std::max<size_t>(1, b.size() / 300);
  for (size_t off = 0; off + 8 <= b.size(); off += step) {
    auto c = b;
    for (size_t k = 0; k < 8; ++k) c[off + k] = char(rng() & 0xff);
    const std::string p = tmp("corrupt.h5");
    write_bytes(p, c);
    auto problems = validate_device_file(p);
    if (!problems.empty()) {
      ++rejected;
      CHECK_THROWS_AS(read_device_file(p), FileError);
      continue;
    }
    ++accepted;
    try {
      TableDevice d(read_device_file(p));
      for (double g : {0.0, 5.0, 20.0, 45.0}) {
        CHECK(std::isfinite(d.program(g, 0.3, 0.7)));
        CHECK(std::isfinite(d.read_sigma_uS(g, g, 10.0)));
        CHECK(std::isfinite(d.sample_nu(g, 0.1)));
      }
    } catch (const Error&) {
      // also acceptable: a typed, explained error
    }
  }
  MESSAGE("corruption sweep: " << rejected << " rejected with a message, " << accepted << " still valid");
  CHECK(rejected > 0);
}

TEST_CASE("table model: interpolation, clamping and empirical sampling") {
  CHECK(interp_clamped({1, 3}, {10, 30}, 2) == doctest::Approx(20));
  CHECK(interp_clamped({1, 3}, {10, 30}, -5) == 10);  // clamped below
  CHECK(interp_clamped({1, 3}, {10, 30}, 99) == 30);  // clamped above
  CHECK(interp_clamped({1}, {7}, 99) == 7);
  CHECK(empirical_quantile({1, 2, 3, 4}, 1e-9) == 1);
  CHECK(empirical_quantile({1, 2, 3, 4}, 1 - 1e-9) == 4);
  CHECK(empirical_quantile({1, 2, 3, 4}, 0.5) == doctest::Approx(2.5));

  TableDevice d(full_tables());
  CHECK(d.name() == "unit");
  CHECK(d.levels_uS().size() == 4);
  CHECK(d.stuck_at_gmin_rate() == 0.001);
  CHECK(d.nu_mean(1) == doctest::Approx(0.05));
  CHECK(d.nu_mean(20.5) == doctest::Approx(0.03));
  CHECK(d.nu_mean(100) == doctest::Approx(0.01));
  CHECK(d.t0_s() == 20);
  // power-law read noise scaled by the drifted conductance
  CHECK(d.read_sigma_uS(40, 40, 1.0) == doctest::Approx(0.4));
  CHECK(d.read_sigma_uS(40, 20, 1.0) == doctest::Approx(0.2));
  CHECK(d.read_sigma_uS(40, 40, 1e4) == doctest::Approx(0.4 * std::pow(1e4, 0.05)));
  // raw samples: the sampled deviation at a level reproduces its samples' quantiles
  CHECK(d.sample_deviation(14, 0.1) == doctest::Approx(-1.0));   // lowest of 13..15 (Hazen 0.1 -> first)
  CHECK(d.sample_deviation(14, 0.5) == doctest::Approx(0.0));
  CHECK(d.sample_deviation(14, 0.9) == doctest::Approx(1.0));
  // halfway between levels 14 and 27: average of the two quantile functions
  CHECK(d.sample_deviation(20.5, 0.9) == doctest::Approx(0.5 * (1.0 + 2.0)));
  CHECK(d.program(14, 0.0, 0.9) == doctest::Approx(15));
  d.prog_scale = 0;
  CHECK(d.program(14, 3.0, 0.9) == 14);
  // stuck-at rates from the config add to the file's
  TableDevice e(full_tables(), 0.01, 0.02);
  CHECK(e.stuck_at_gmax_rate() == doctest::Approx(0.022));
}

TEST_CASE("table model via make_device(model = file) honours the noise scales") {
  const std::string p = valid_file("scales.h5");
  DeviceConfig cfg;
  cfg.model = DeviceKind::file;
  cfg.file = p;
  cfg.read_noise_scale = 0.5;
  cfg.drift_scale = 0;
  auto d = make_device(cfg);
  CHECK(d->name() == "unit");
  CHECK(d->g_max_uS() == 40);
  CHECK(d->read_scale == 0.5);
  CHECK(d->sample_nu(10, 1.0) == 0);
}

// The shipped pcm.h5 is tabulate_device("pcm"); here the same code path writes a file, loads it
// through make_device(model = file) and compares with the parametric PcmDevice.
TEST_CASE("pcm table file matches the parametric pcm model statistically") {
  DeviceConfig pc;
  pc.model = DeviceKind::pcm;
  auto tab = tabulate_device(pc, "test", "test");
  const std::string p = tmp("pcm.h5");
  write_device_file(p, tab.tables);
  DeviceConfig fc;
  fc.model = DeviceKind::file;
  fc.file = p;
  auto table = make_device(fc);
  auto param = make_device(pc);
  CHECK(table->g_max_uS() == param->g_max_uS());
  CHECK(table->t0_s() == param->t0_s());

  const int n = 20000;
  std::mt19937_64 rng_a(101), rng_b(202);
  std::normal_distribution<double> N01;
  std::uniform_real_distribution<double> U01(1e-12, 1 - 1e-12);
  auto stats = [&](auto draw, std::mt19937_64& rng, double& mean, double& sd) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double x = draw(rng);
      s += x, s2 += x * x;
    }
    mean = s / n;
    sd = std::sqrt(std::max(0.0, s2 / n - mean * mean));
  };

  SUBCASE("programmed conductance: mean and std over 20000 draws within 4 standard errors") {
    for (double g : {0.5, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0}) {
      double ma, sa, mb, sb;
      stats([&](std::mt19937_64& r) { return table->program(g, N01(r), U01(r)); }, rng_a, ma, sa);
      stats([&](std::mt19937_64& r) { return param->program(g, N01(r), U01(r)); }, rng_b, mb, sb);
      const double se_mean = std::sqrt((sa * sa + sb * sb) / n), se_sd = std::sqrt((sa * sa + sb * sb) / (2.0 * n));
      CAPTURE(g);
      CHECK(std::abs(ma - mb) < 4 * se_mean);
      CHECK(std::abs(sa - sb) < 4 * se_sd);
      // and the tabulated sigma itself is exact to 0.01%
      CHECK(table->prog_sigma_uS(g) == doctest::Approx(param->prog_sigma_uS(g)).epsilon(1e-4));
    }
  }
  SUBCASE("drift exponent nu: mean and std over 20000 draws within 4 standard errors") {
    for (double g : {0.05, 0.3, 1.0, 3.0, 6.0, 12.0, 25.0}) {
      double ma, sa, mb, sb;
      stats([&](std::mt19937_64& r) { return table->sample_nu(g, N01(r)); }, rng_a, ma, sa);
      stats([&](std::mt19937_64& r) { return param->sample_nu(g, N01(r)); }, rng_b, mb, sb);
      const double se_mean = std::sqrt((sa * sa + sb * sb) / n), se_sd = std::sqrt((sa * sa + sb * sb) / (2.0 * n));
      CAPTURE(g);
      CHECK(std::abs(ma - mb) < 4 * se_mean);
      CHECK(std::abs(sa - sb) < 4 * se_sd);
      CHECK(table->nu_mean(g) == doctest::Approx(param->nu_mean(g)).epsilon(0.005));
      CHECK(table->nu_std(g) == doctest::Approx(param->nu_std(g)).epsilon(0.01));
    }
  }
  SUBCASE("read noise at several t: sigma within 1%, sampled std within 4 standard errors") {
    for (double t : {1e-3, 1.0, 3600.0, 86400.0, 30 * 86400.0})
      for (double g : {1.0, 5.0, 12.5, 25.0}) {
        const double gnow = g * std::pow((t + 20.0) / 20.0, -param->nu_mean(g));
        const double sa = table->read_sigma_uS(g, gnow, t), sb = param->read_sigma_uS(g, gnow, t);
        CAPTURE(t);
        CAPTURE(g);
        CHECK(sa == doctest::Approx(sb).epsilon(0.01));
        double ma, da, mb, db;
        stats([&](std::mt19937_64& r) { return gnow + sa * N01(r); }, rng_a, ma, da);
        stats([&](std::mt19937_64& r) { return gnow + sb * N01(r); }, rng_b, mb, db);
        CHECK(std::abs(da - db) < 4 * std::sqrt((da * da + db * db) / (2.0 * n)));
      }
    // published anchor (Joshi et al., Nat. Commun. 2020, PCM model): ~3.4% relative read noise at g_max after 1 s
    CHECK(table->read_sigma_uS(25, 25, 1.0) / 25 == doctest::Approx(0.034).epsilon(0.03));
    CHECK(table->read_sigma_uS(25, 25, 1e-7) == 0);  // before one read pulse: no 1/f noise yet
  }
}

TEST_CASE("rram and ideal tables reproduce their parametric models") {
  DeviceConfig rc;
  rc.model = DeviceKind::rram;
  rc.g_max_uS = 40;
  auto rt = tabulate_device(rc, "test", "");
  const std::string p = tmp("rram.h5");
  write_device_file(p, rt.tables);
  TableDevice t(read_device_file(p));
  RramDevice r(rc);
  for (double g : {0.0, 3.0, 10.0, 20.0, 33.0, 40.0}) {
    CHECK(t.prog_sigma_uS(g) == doctest::Approx(r.prog_sigma_uS(g)).epsilon(1e-4));
    CHECK(t.read_sigma_uS(g, 0.9 * g, 1e5) == doctest::Approx(r.read_sigma_uS(g, 0.9 * g, 1e5)).epsilon(1e-9));
    CHECK(t.nu_mean(g) == 0);
  }
  DeviceConfig ic;
  auto it = tabulate_device(ic, "test", "");
  TableDevice id(it.tables);
  CHECK(id.program(10, 2.0, 0.3) == 10);
  CHECK(id.read_sigma_uS(10, 10, 100) == 0);
  CHECK(id.sample_nu(10, 1.0) == 0);
}
