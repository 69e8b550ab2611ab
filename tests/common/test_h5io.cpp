// Checked HDF5 reading of objects that a corrupted or foreign file can hold (fuzz regressions):
// string attributes with several elements, and datasets whose extent exceeds what they store.
#include <doctest/doctest.h>
#include <hdf5.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/h5io.h"

using namespace xbar;

namespace {

std::string tmp(const std::string& name) { return "/tmp/xbar_test_h5io_" + name; }

// Root attribute `name` of n fixed-length strings of `len` bytes (len 0: variable length).
void string_array_attr(hid_t f, const char* name, hsize_t n, size_t len) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, len ? len : H5T_VARIABLE);
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (len) {
    std::vector<char> buf(n * len, 'x');
    H5Awrite(a, t, buf.data());
  } else {
    std::vector<const char*> p(n, "a long variable-length string");
    H5Awrite(a, t, p.data());
  }
  H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}

}  // namespace

TEST_CASE("h5io: a string attribute with several elements is rejected, not read past its buffer") {
  const std::string p = tmp("strings.h5");
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  string_array_attr(f, "fixed", 3, 8);
  string_array_attr(f, "vlen", 4, 0);
  string_array_attr(f, "single", 1, 5);
  H5Fclose(f);
  h5::Reader r(p);
  CHECK_THROWS_WITH_AS(r.attr_string("/", "fixed"), doctest::Contains("not a single string"), FileError);
  CHECK_THROWS_WITH_AS(r.attr_string("/", "vlen"), doctest::Contains("not a single string"), FileError);
  CHECK(r.attr_string("/", "single") == "xxxxx");
  std::remove(p.c_str());
}

TEST_CASE("h5io: a dataset declaring more values than it stores is rejected before allocating") {
  const std::string p = tmp("extent.h5");
  hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t big = hsize_t(1) << 26, small = 4;
  hid_t sp = H5Screate_simple(1, &big, nullptr);  // never written: storage is not allocated
  H5Dclose(H5Dcreate2(f, "unwritten", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Sclose(sp);
  sp = H5Screate_simple(1, &small, nullptr);
  const double v[4] = {1, 2, 3, 4};
  hid_t d = H5Dcreate2(f, "written", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(d), H5Sclose(sp);
  H5Fclose(f);
  h5::Reader r(p);
  CHECK_THROWS_WITH_AS(r.read("unwritten"), doctest::Contains("stores only 0 bytes"), FileError);
  const h5::Array a = r.read("written", 1);
  CHECK(a.data == std::vector<double>{1, 2, 3, 4});
  std::remove(p.c_str());
}

TEST_CASE("h5io: every failure names the file and the object") {
  const std::string p = tmp("names.h5");
  {
    h5::Writer w(p);
    w.write("values", std::vector<double>{1, 2, 3}, {3});
    w.write_strings("words", {"a", "b"});
    w.group("/g");
    w.attr("/", "text", std::string("x"));
    w.attr("/", "number", 2.5);
    // Writer failures: object already there, missing parent object, shape not matching the data.
    CHECK_THROWS_WITH_AS(w.write("values", std::vector<double>{1}, {1}), doctest::Contains((p + ": dataset values").c_str()),
                         FileError);
    CHECK_THROWS_WITH_AS(w.write_strings("words", {"c"}), doctest::Contains((p + ": dataset words").c_str()), FileError);
    CHECK_THROWS_WITH_AS(w.attr("/missing", "units", std::string("uS")),
                         doctest::Contains((p + ": attribute units of /missing").c_str()), FileError);
    CHECK_THROWS_WITH_AS(w.write("short", std::vector<float>{1, 2}, {3}), doctest::Contains((p + ": dataset short").c_str()),
                         FileError);
    CHECK_THROWS_WITH_AS(w.group("/no/such/parent"), doctest::Contains((p + ": group /no/such/parent").c_str()), FileError);
    w.close();
  }
  CHECK_THROWS_WITH_AS(h5::Writer("/nonexistent_dir/x.h5"), doctest::Contains("/nonexistent_dir/x.h5"), FileError);
  CHECK_THROWS_WITH_AS(h5::Reader(tmp("absent.h5")), doctest::Contains(tmp("absent.h5").c_str()), FileError);

  h5::Reader r(p);
  const auto names = [&](const std::string& object) { return doctest::Contains((p + ": " + object).c_str()); };
  CHECK_THROWS_WITH_AS(r.read("nope"), names("dataset nope"), FileError);
  CHECK_THROWS_WITH_AS(r.read("g"), names("dataset g"), FileError);              // a group
  CHECK_THROWS_WITH_AS(r.read("values", 2), names("dataset values"), FileError);  // wrong rank
  CHECK_THROWS_WITH_AS(r.read("words"), names("dataset words"), FileError);       // strings
  CHECK_THROWS_WITH_AS(r.read_strings("values"), names("dataset values"), FileError);
  CHECK_THROWS_WITH_AS(r.read_strings("nope"), names("dataset nope"), FileError);
  CHECK_THROWS_WITH_AS(r.attr_double("/", "text"), names("attribute text of /"), FileError);
  CHECK_THROWS_WITH_AS(r.attr_double("/", "absent"), names("attribute absent of /"), FileError);
  CHECK_THROWS_WITH_AS(r.attr_string("/", "number"), names("attribute number of /"), FileError);
  CHECK_THROWS_WITH_AS(r.attr_string("values", "absent"), names("attribute absent of values"), FileError);
  CHECK_THROWS_WITH_AS(r.children("nope"), names("group nope"), FileError);
  CHECK_THROWS_WITH_AS(r.attr_names("nope"), names("nope"), FileError);
  // And what was written reads back.
  CHECK(r.read("values", 1).data == std::vector<double>{1, 2, 3});
  CHECK(r.read_strings("words") == std::vector<std::string>{"a", "b"});
  CHECK(r.attr_string("/", "text") == "x");
  CHECK(r.attr_double("/", "number") == 2.5);
  std::remove(p.c_str());
}

TEST_CASE("h5io: the checksummed format stores fixed-length strings, compact and Fletcher-32 datasets") {
  const std::string p = tmp("checksummed.h5");
  std::vector<double> big(5000, 1.5);  // 40 kB: above the compact limit
  {
    h5::Writer w(p, h5::Format::checksummed);
    w.write("scalar", std::vector<double>{2.0}, {});
    w.write("big", big, {big.size()});
    w.attr("/", "name", std::string("dev"));
    w.attr("/", "empty", std::string());
    w.close();
  }
  hid_t f = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(f >= 0);
  hid_t d = H5Dopen2(f, "scalar", H5P_DEFAULT), pl = H5Dget_create_plist(d);
  CHECK(H5Pget_layout(pl) == H5D_COMPACT);
  H5Pclose(pl), H5Dclose(d);
  d = H5Dopen2(f, "big", H5P_DEFAULT), pl = H5Dget_create_plist(d);
  CHECK(H5Pget_layout(pl) == H5D_CHUNKED);
  REQUIRE(H5Pget_nfilters(pl) == 1);
  unsigned flags = 0;
  size_t nelm = 0;
  CHECK(H5Pget_filter2(pl, 0, &flags, &nelm, nullptr, 0, nullptr, nullptr) == H5Z_FILTER_FLETCHER32);
  H5Pclose(pl), H5Dclose(d);
  hid_t a = H5Aopen(f, "name", H5P_DEFAULT), t = H5Aget_type(a);
  CHECK(H5Tis_variable_str(t) == 0);
  H5Tclose(t), H5Aclose(a), H5Fclose(f);
  h5::Reader r(p);
  CHECK(r.read("scalar", 0).data == std::vector<double>{2.0});
  CHECK(r.read("big", 1).data == big);
  CHECK(r.attr_string("/", "name") == "dev");
  CHECK(r.attr_string("/", "empty").empty());
  std::remove(p.c_str());
}
