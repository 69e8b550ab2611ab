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
