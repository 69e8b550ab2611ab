#include <doctest/doctest.h>

#include "common/fields.h"

using namespace xbar;

namespace {
enum class DemoMode { a, b, long_name };
}  // namespace
template <>
struct xbar::EnumNames<DemoMode> {
  static constexpr EnumName<DemoMode> table[] = {{DemoMode::a, "a"}, {DemoMode::b, "b"}, {DemoMode::long_name, "long-name"}};
};
namespace {
struct Demo {
  int bits = 4;
  double r_ohm = 1.5;
  bool on = false;
  DemoMode mode = DemoMode::a;
  static const char* section() { return "demo"; }
  static const std::vector<Field<Demo>>& fields() {
    static const std::vector<Field<Demo>> f = {
        {"bits", "bit", "resolution", &Demo::bits, 0, 16},
        {"r_ohm", "ohm", "resistance", &Demo::r_ohm, 0, 1e3},
        {"on", "", "switch", &Demo::on},
        {"mode", "", "mode", &Demo::mode},
    };
    return f;
  }
};
}  // namespace

TEST_CASE("set_field converts text and numbers by field type") {
  Demo d;
  set_field(d, "bits", FieldValue(std::string("7")));
  CHECK(d.bits == 7);
  set_field(d, "bits", FieldValue(int64_t(9)));
  CHECK(d.bits == 9);
  set_field(d, "r_ohm", FieldValue(int64_t(3)));
  CHECK(d.r_ohm == 3.0);
  set_field(d, "r_ohm", FieldValue(std::string("2.25")));
  CHECK(d.r_ohm == 2.25);
  set_field(d, "on", FieldValue(std::string("true")));
  CHECK(d.on);
  set_field(d, "mode", FieldValue(std::string("b")));
  CHECK(d.mode == DemoMode::b);
  CHECK(field_string(d, Demo::fields()[3]) == "b");
  set_field(d, "mode", FieldValue(std::string("long-name")));  // names need not be identifiers
  CHECK(d.mode == DemoMode::long_name);
  CHECK(field_string(d, Demo::fields()[3]) == "long-name");
}

TEST_CASE("set_field rejects wrong types and names the field and value") {
  Demo d;
  CHECK_THROWS_WITH_AS(set_field(d, "bits", FieldValue(std::string("4x"))), doctest::Contains("demo.bits"), ConfigError);
  CHECK_THROWS_WITH_AS(set_field(d, "bits", FieldValue(2.5)), doctest::Contains("expected an integer"), ConfigError);
  CHECK_THROWS_WITH_AS(set_field(d, "on", FieldValue(int64_t(1))), doctest::Contains("true or false"), ConfigError);
  CHECK_THROWS_WITH_AS(set_field(d, "mode", FieldValue(1.0)), doctest::Contains("expected one of: a, b, long-name"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(set_field(d, "mode", FieldValue(std::string("long_nam"))),
                       doctest::Contains("demo.mode = \"long_nam\": must be one of: a, b, long-name (did you mean long-name?)"),
                       ConfigError);
  CHECK(d.mode == DemoMode::a);  // unchanged by the rejected names
}

TEST_CASE("set_field rejects integral doubles beyond int range (fuzz regression: the cast was UB)") {
  Demo d;
  for (double v : {1e300, -1e300, 4294967296.0, -9.3e18}) {
    CAPTURE(v);
    CHECK_THROWS_WITH_AS(set_field(d, "bits", FieldValue(v)), doctest::Contains("out of integer range"), ConfigError);
  }
  set_field(d, "bits", FieldValue(12.0));
  CHECK(d.bits == 12);
}

TEST_CASE("unknown keys get a did-you-mean suggestion") {
  Demo d;
  CHECK_THROWS_WITH_AS(set_field(d, "bitz", FieldValue(int64_t(1))), doctest::Contains("did you mean demo.bits"), ConfigError);
  CHECK_THROWS_WITH_AS(set_field(d, "zzzzzzzzzz", FieldValue(int64_t(1))), doctest::Contains("unknown key"), ConfigError);
}

TEST_CASE("check_fields enforces ranges and finiteness") {
  Demo d;
  CHECK_NOTHROW(check_fields(d));
  d.bits = 17;
  CHECK_THROWS_WITH_AS(check_fields(d), doctest::Contains("demo.bits = 17"), ConfigError);
  d.bits = 4;
  d.r_ohm = std::nan("");
  CHECK_THROWS_WITH_AS(check_fields(d), doctest::Contains("must be finite"), ConfigError);
  d.r_ohm = -1;
  CHECK_THROWS_WITH_AS(check_fields(d), doctest::Contains("demo.r_ohm = -1"), ConfigError);
  d.r_ohm = 1;
  d.mode = DemoMode::long_name;
  CHECK_NOTHROW(check_fields(d));
}

TEST_CASE("help lists every field with unit, default and range") {
  const std::string h = fields_help<Demo>();
  CHECK(h.find("demo.bits [bit]") != std::string::npos);
  CHECK(h.find("default 4; range 0 .. 16") != std::string::npos);
  CHECK(h.find("demo.r_ohm [ohm]") != std::string::npos);
  CHECK(h.find("default a; one of a b long-name") != std::string::npos);
}

TEST_CASE("format_double round-trips") {
  for (double v : {0.1, 1.0 / 3.0, 25.0, 1e-9, 123456.789, -2.5}) CHECK(std::stod(format_double(v)) == v);
  CHECK(format_double(25.0) == "25");
}
