// The device-file schema table: a file written through it reads back field for field, every object
// in a written file is listed in it, and data/devices/README.md shows exactly its Markdown form.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "common/h5io.h"
#include "devices/device_file.h"
#include "devices/device_schema.h"

using namespace xbar;
namespace ds = xbar::device_schema;

namespace {

std::string tmp(const std::string& name) {
  return "/tmp/xbar_test_device_schema_" + std::to_string(::getpid()) + "_" + name;
}

// Every DeviceTables field set to a value different from its default.
DeviceTables every_field() {
  DeviceTables t;
  t.name = "schema";
  t.technology = "pcm";
  t.source = "round trip";
  t.citation = "none";
  t.description = "every field set";
  t.g_min_uS = 0.5;
  t.g_max_uS = 30.0;
  t.levels_uS = {0.5, 10, 20, 30};
  t.prog_g_uS = {0.5, 10, 20, 30};
  t.prog_sigma_uS = {0.25, 1.0, 1.25, 0.75};
  t.prog_samples_n = 3;
  t.prog_samples_uS = {0.4, 0.5, 0.6, 9, 10, 11, 19, 20, 21, 29, 30, 31};
  t.read_g_uS = {0, 15, 30};
  t.read_sigma_uS = {0.0, 0.2, 0.3};
  t.read_time_model = "power";
  t.read_t_ref_s = 2.0;
  t.read_t_read_s = 1e-6;
  t.read_time_exponent = 0.07;
  t.read_scales_with_drift = false;
  t.drift_g_uS = {0.5, 30};
  t.drift_nu_mean = {0.06, 0.03};
  t.drift_nu_std = {0.01, 0.02};
  t.drift_t0_s = 7.0;
  t.stuck_at_gmin_rate = 0.01;
  t.stuck_at_gmax_rate = 0.02;
  t.iv_v_V = {0.0, 0.1, 0.2};
  t.iv_i_per_g = {0.0, 0.11, 0.23};
  t.tool = "unit";
  t.tool_version = "9.9";
  t.date = "2024-01-02T03:04:05Z";
  t.method = "by hand";
  t.inputs = {{"levels", "a.csv", std::string(64, 'b')}, {"", "b.csv", std::string(64, 'c')}};
  return t;
}

}  // namespace

TEST_CASE("device schema: a file written through the table reads back with every field equal") {
  const std::string p = tmp("round_trip.h5");
  const DeviceTables a = every_field();
  write_device_file(p, a);
  const DeviceTables b = read_device_file(p);
  // Compared field by field (not through the table, so a field the table forgets fails here).
  CHECK(b.name == a.name);
  CHECK(b.technology == a.technology);
  CHECK(b.source == a.source);
  CHECK(b.citation == a.citation);
  CHECK(b.description == a.description);
  CHECK(b.g_min_uS == a.g_min_uS);
  CHECK(b.g_max_uS == a.g_max_uS);
  CHECK(b.levels_uS == a.levels_uS);
  CHECK(b.prog_g_uS == a.prog_g_uS);
  CHECK(b.prog_sigma_uS == a.prog_sigma_uS);
  CHECK(b.prog_samples_n == a.prog_samples_n);
  CHECK(b.prog_samples_uS == a.prog_samples_uS);
  CHECK(b.read_g_uS == a.read_g_uS);
  CHECK(b.read_sigma_uS == a.read_sigma_uS);
  CHECK(b.read_time_model == a.read_time_model);
  CHECK(b.read_t_ref_s == a.read_t_ref_s);
  CHECK(b.read_t_read_s == a.read_t_read_s);
  CHECK(b.read_time_exponent == a.read_time_exponent);
  CHECK(b.read_scales_with_drift == a.read_scales_with_drift);
  CHECK(b.drift_g_uS == a.drift_g_uS);
  CHECK(b.drift_nu_mean == a.drift_nu_mean);
  CHECK(b.drift_nu_std == a.drift_nu_std);
  CHECK(b.drift_t0_s == a.drift_t0_s);
  CHECK(b.stuck_at_gmin_rate == a.stuck_at_gmin_rate);
  CHECK(b.stuck_at_gmax_rate == a.stuck_at_gmax_rate);
  CHECK(b.iv_v_V == a.iv_v_V);
  CHECK(b.iv_i_per_g == a.iv_i_per_g);
  CHECK(b.tool == a.tool);
  CHECK(b.tool_version == a.tool_version);
  CHECK(b.date == a.date);
  CHECK(b.method == a.method);
  REQUIRE(b.inputs.size() == a.inputs.size());
  for (size_t k = 0; k < a.inputs.size(); ++k) {
    CHECK(b.inputs[k].role == a.inputs[k].role);
    CHECK(b.inputs[k].name == a.inputs[k].name);
    CHECK(b.inputs[k].sha256 == a.inputs[k].sha256);
  }

  // Every group, dataset and attribute in the file is an entry of the table (input_K_* by pattern),
  // and every dataset has the table's unit.
  std::set<std::string> listed;
  for (const auto& e : ds::table()) listed.insert(ds::object_path(e));
  h5::Reader r(p);
  std::vector<std::string> objects = {"/"};
  for (size_t i = 0; i < objects.size(); ++i) {
    const std::string obj = objects[i];
    const std::string prefix = obj == "/" ? "/" : obj + "/";
    bool group = true;
    try {
      for (const auto& c : r.children(obj)) objects.push_back(prefix + c);
    } catch (const std::exception&) {
      group = false;  // a dataset
    }
    CHECK_MESSAGE(listed.count(obj), obj);
    for (const auto& a : r.attr_names(obj)) {
      if (!group && a == "units") continue;
      std::string name = a;
      if (name.rfind("input_", 0) == 0) name = "input_K_" + name.substr(name.find('_', 6) + 1);
      CHECK_MESSAGE(listed.count(obj + "@" + name), obj << "@" << a);
    }
  }
  for (const auto& e : ds::table())
    if (e.kind == ds::Kind::dataset) CHECK(r.attr_string(ds::object_path(e), "units") == e.units);
  std::remove(p.c_str());
}

TEST_CASE("device schema: data/devices/README.md holds the table as `xbar device schema` prints it") {
  std::ifstream in(std::string(XBAR_SOURCE_DIR) + "/data/devices/README.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str().find(ds::markdown()) != std::string::npos);
}

TEST_CASE("device schema: the shipped device files still read and validate") {
  for (const char* f : {"ideal.h5", "pcm.h5", "rram.h5", "rram_measured.h5"}) {
    const std::string p = std::string(XBAR_SOURCE_DIR) + "/data/devices/" + f;
    const auto problems = validate_device_file(p);
    CHECK_MESSAGE(problems.empty(), format_problems(p, problems));
  }
}
