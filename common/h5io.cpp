#include "common/h5io.h"

#include <H5Cpp.h>

#include <cmath>
#include <functional>

#include "common/error.h"

namespace xbar::h5 {

namespace {

// HDF5 prints its own error stack by default; we report through FileError instead.
void quiet() {
  static bool done = [] {
    H5::Exception::dontPrint();
    return true;
  }();
  (void)done;
}

template <class F>
auto checked(const std::string& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const H5::Exception& e) {
    throw FileError(where + ": " + e.getDetailMsg());
  }
}

// Throws FileError(where + ": " + what) when an HDF5 call returned a negative id or status.
template <class T>
T ok(T r, const std::string& where, const std::string& what) {
  if (r < 0) throw FileError(where + ": " + what + " failed");
  return r;
}

// Largest dataset read into memory (2 GiB as float64): far above any device table or mvm case.
constexpr size_t kMaxElements = size_t(1) << 28;

// Owns an HDF5 C identifier; closes it with the matching close function.
struct Hid {
  hid_t id;
  herr_t (*close)(hid_t);
  Hid(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  Hid(Hid&& o) noexcept : id(o.id), close(o.close) { o.id = -1; }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() {
    if (id >= 0) close(id);
  }
};

bool link_exists(hid_t f, const std::string& path) {
  // Check each component: H5Lexists fails on a missing intermediate group.
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string part = path.substr(pos, next - pos);
    if (!part.empty()) {
      cur += "/" + part;
      if (H5Lexists(f, cur.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = next + 1;
  }
  return true;
}

// An open attribute with its type and dataspace; where names it in errors.
struct OpenAttr {
  Hid a, t, sp;
};

OpenAttr open_attr(hid_t f, const std::string& object, const std::string& name, const std::string& where) {
  Hid a{H5Aopen_by_name(f, object.empty() ? "/" : object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.id < 0) throw FileError(where + " cannot be opened");
  Hid t{H5Aget_type(a.id), H5Tclose}, sp{H5Aget_space(a.id), H5Sclose};
  if (t.id < 0 || sp.id < 0) throw FileError(where + ": type or dataspace cannot be read");
  return OpenAttr{std::move(a), std::move(t), std::move(sp)};
}

}  // namespace

Reader::Reader(const std::string& path) : path_(path) {
  quiet();
  htri_t ok = H5Fis_hdf5(path.c_str());
  if (ok <= 0) throw FileError(path + ": missing, unreadable or not an HDF5 file");
  f_ = checked(path, [&] { return std::make_unique<H5::H5File>(path, H5F_ACC_RDONLY); });
}
Reader::~Reader() = default;

bool Reader::has(const std::string& object) const {
  return checked(path_, [&] { return link_exists(f_->getId(), object); });
}

Array Reader::read(const std::string& name, int rank, bool finite_only) const {
  const std::string where = path_ + ": dataset " + name;
  if (!has(name)) throw FileError(where + " is missing");
  return checked(where, [&] {
    H5O_info_t info;
    if (H5Oget_info_by_name(f_->getId(), name.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET)
      throw FileError(where + " is not a dataset");
    H5::DataSet ds = f_->openDataSet(name);
    H5T_class_t cls = ds.getTypeClass();
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
      throw FileError(where + " has a non-numeric type (expected float64)");
    H5::DataSpace sp = ds.getSpace();
    int nd = sp.getSimpleExtentNdims();
    if (rank >= 0 && nd != rank)
      throw FileError(where + " has rank " + std::to_string(nd) + ", expected " + std::to_string(rank));
    std::vector<hsize_t> dims(nd);
    if (nd > 0) sp.getSimpleExtentDims(dims.data());
    Array a;
    size_t n = 1;
    for (auto d : dims) {
      a.shape.push_back(size_t(d));
      if (d != 0 && n > kMaxElements / d)
        throw FileError(where + " declares more than " + std::to_string(kMaxElements) + " values (corrupted?)");
      n *= size_t(d);
    }
    // A dataset whose extent exceeds the bytes it stores reads back fill values: never written
    // by xbar or h5py, but a corrupted header can claim a huge extent in a tiny file. Filtered
    // (compressed) datasets legitimately store fewer bytes.
    Hid dcpl{H5Dget_create_plist(ds.getId()), H5Pclose};
    ok(dcpl.id, where, "creation properties");
    const size_t type_size = ds.getDataType().getSize();
    const hsize_t stored = H5Dget_storage_size(ds.getId());  // 0 is both "none" and an error
    if (n > 0 && ok(H5Pget_nfilters(dcpl.id), where, "filters") == 0 && stored < hsize_t(n) * type_size)
      throw FileError(where + " declares " + std::to_string(n) + " values but stores only " + std::to_string(stored) +
                      " bytes (unwritten or corrupted)");
    a.data.resize(n);
    if (n > 0) ds.read(a.data.data(), H5::PredType::NATIVE_DOUBLE);
    if (finite_only)
      for (size_t i = 0; i < n; ++i)
        if (!std::isfinite(a.data[i]))
          throw FileError(where + " has a non-finite value (" + std::to_string(a.data[i]) + ") at flat index " +
                          std::to_string(i));
    return a;
  });
}

std::vector<std::string> Reader::read_strings(const std::string& name) const {
  const std::string where = path_ + ": dataset " + name;
  if (!has(name)) throw FileError(where + " is missing");
  return checked(where, [&] {
    H5::DataSet ds = f_->openDataSet(name);
    if (ds.getTypeClass() != H5T_STRING) throw FileError(where + " is not a string dataset");
    H5::DataSpace sp = ds.getSpace();
    if (sp.getSimpleExtentNdims() != 1) throw FileError(where + " is not one-dimensional");
    hsize_t n = 0;
    sp.getSimpleExtentDims(&n);
    std::vector<char*> p(size_t(n), nullptr);
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    if (!ds.getStrType().isVariableStr()) throw FileError(where + " holds fixed-length strings (expected variable)");
    if (n) ds.read(p.data(), t);
    std::vector<std::string> out;
    for (char* c : p) out.push_back(c ? c : "");
    if (n) ok(H5Dvlen_reclaim(t.getId(), sp.getId(), H5P_DEFAULT, p.data()), where, "free strings");
    return out;
  });
}

bool Reader::has_attr(const std::string& object, const std::string& name) const {
  return checked(path_ + ": " + object, [&] {
    if (!object.empty() && object != "/" && !link_exists(f_->getId(), object)) return false;
    return H5Aexists_by_name(f_->getId(), object.empty() ? "/" : object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
  });
}

double Reader::attr_double(const std::string& object, const std::string& name) const {
  const std::string where = path_ + ": attribute " + name + " of " + (object.empty() ? "/" : object);
  if (!has_attr(object, name)) throw FileError(where + " is missing");
  return checked(where, [&] {
    const auto [a, t, sp] = open_attr(f_->getId(), object, name, where);
    H5T_class_t cls = H5Tget_class(t.id);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw FileError(where + " is not numeric");
    if (ok(H5Sget_simple_extent_npoints(sp.id), where, "extent") != 1) throw FileError(where + " is not a scalar");
    double v;
    if (H5Aread(a.id, H5T_NATIVE_DOUBLE, &v) < 0) throw FileError(where + " cannot be read");
    return v;
  });
}

double Reader::attr_double(const std::string& object, const std::string& name, double fallback) const {
  return has_attr(object, name) ? attr_double(object, name) : fallback;
}

std::string Reader::attr_string(const std::string& object, const std::string& name) const {
  const std::string where = path_ + ": attribute " + name + " of " + (object.empty() ? "/" : object);
  if (!has_attr(object, name)) throw FileError(where + " is missing");
  return checked(where, [&] {
    const auto [a, t, sp] = open_attr(f_->getId(), object, name, where);
    if (H5Tget_class(t.id) != H5T_STRING) throw FileError(where + " is not a string");
    // H5Aread fills every element: an array of strings would overrun the one-string buffer.
    if (ok(H5Sget_simple_extent_npoints(sp.id), where, "extent") != 1)
      throw FileError(where + " is not a single string");
    std::string s;
    if (H5Tis_variable_str(t.id) > 0) {
      char* p = nullptr;
      Hid mt{ok(H5Tcopy(H5T_C_S1), where, "string type"), H5Tclose};
      ok(H5Tset_size(mt.id, H5T_VARIABLE), where, "variable-length string type");
      // h5py writes UTF-8; ASCII<->UTF-8 has no conversion
      ok(H5Tset_cset(mt.id, ok(H5Tget_cset(t.id), where, "character set")), where, "character set");
      if (H5Aread(a.id, mt.id, &p) < 0) throw FileError(where + " cannot be read");
      if (p) s = p;
      H5free_memory(p);
    } else {
      const size_t size = H5Tget_size(t.id);
      if (size == 0) throw FileError(where + ": string size cannot be read");
      if (size > (size_t(1) << 20)) throw FileError(where + " is longer than 1 MiB (corrupted?)");
      std::vector<char> buf(size + 1, 0);
      if (H5Aread(a.id, t.id, buf.data()) < 0) throw FileError(where + " cannot be read");
      s = buf.data();
    }
    return s;
  });
}

std::vector<std::string> Reader::attr_names(const std::string& object) const {
  const std::string where = path_ + ": " + (object.empty() ? "/" : object);
  return checked(where, [&] {
    Hid o{H5Oopen(f_->getId(), object.empty() ? "/" : object.c_str(), H5P_DEFAULT), H5Oclose};
    if (o.id < 0) throw FileError(where + " cannot be opened");
    std::vector<std::string> out;
    const int n = ok(H5Aget_num_attrs(o.id), where, "attribute count");
    for (int i = 0; i < n; ++i) {
      Hid a{H5Aopen_by_idx(o.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      ok(a.id, where, "attribute " + std::to_string(i));
      const ssize_t len = ok(H5Aget_name(a.id, 0, nullptr), where, "attribute name");
      std::vector<char> buf(size_t(len) + 1, 0);
      ok(H5Aget_name(a.id, buf.size(), buf.data()), where, "attribute name");
      out.emplace_back(buf.data());
    }
    return out;
  });
}

std::vector<std::string> Reader::children(const std::string& group) const {
  return checked(path_ + ": group " + group, [&] {
    H5::Group g = f_->openGroup(group.empty() ? "/" : group);
    std::vector<std::string> out;
    for (hsize_t i = 0; i < g.getNumObjs(); ++i) out.push_back(std::string(g.getObjnameByIdx(i)));
    return out;
  });
}

namespace {

std::string root_or(const std::string& obj) { return obj.empty() ? "/" : obj; }

constexpr size_t kCompactBytes = 32768;  // HDF5's limit for data inside the object header is 64 KiB

}  // namespace

Writer::Writer(const std::string& path, Format format) : path_(path), format_(format) {
  quiet();
  Hid fapl{ok(H5Pcreate(H5P_FILE_ACCESS), path, "file access properties"), H5Pclose};
  if (format == Format::checksummed)
    ok(H5Pset_libver_bounds(fapl.id, H5F_LIBVER_V18, H5F_LIBVER_LATEST), path, "file format 1.8");
  file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id);
  if (file_ < 0) throw FileError(path + ": cannot create file");
}

Writer::~Writer() {
  if (file_ >= 0) H5Fclose(file_);
}

void Writer::group(const std::string& name) {
  const std::string where = path_ + ": group " + name;
  if (link_exists(file_, name)) return;
  Hid g{ok(H5Gcreate2(file_, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), where, "create"), H5Gclose};
}

void Writer::write_numeric(const std::string& name, const void* data, size_t count, const std::vector<size_t>& shape,
                           int64_t file_type, int64_t mem_type, size_t elem_size) {
  const std::string where = path_ + ": dataset " + name;
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  size_t n = 1;
  for (auto d : shape) n *= d;
  if (n != count)
    throw FileError(where + ": shape holds " + std::to_string(n) + " values, data " + std::to_string(count));
  Hid sp{ok(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr), where,
            "dataspace"),
         H5Sclose};
  Hid dcpl{ok(H5Pcreate(H5P_DATASET_CREATE), where, "creation properties"), H5Pclose};
  if (format_ == Format::checksummed) {
    if (dims.empty() || n * elem_size <= kCompactBytes || n == 0) {
      ok(H5Pset_layout(dcpl.id, H5D_COMPACT), where, "compact layout");
    } else {
      ok(H5Pset_chunk(dcpl.id, int(dims.size()), dims.data()), where, "chunked layout");
      ok(H5Pset_fletcher32(dcpl.id), where, "Fletcher-32 filter");
    }
  }
  Hid ds{ok(H5Dcreate2(file_, name.c_str(), file_type, sp.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT), where, "create"),
         H5Dclose};
  if (n > 0) ok(H5Dwrite(ds.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), where, "write");
}

void Writer::write(const std::string& name, const std::vector<double>& d, const std::vector<size_t>& shape) {
  write_numeric(name, d.data(), d.size(), shape, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sizeof(double));
}
void Writer::write(const std::string& name, const std::vector<float>& d, const std::vector<size_t>& shape) {
  write_numeric(name, d.data(), d.size(), shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float));
}

void Writer::write_strings(const std::string& name, const std::vector<std::string>& values) {
  const std::string where = path_ + ": dataset " + name;
  std::vector<const char*> p;
  for (const auto& s : values) p.push_back(s.c_str());
  const hsize_t n = p.size();
  Hid t{ok(H5Tcopy(H5T_C_S1), where, "string type"), H5Tclose};
  ok(H5Tset_size(t.id, H5T_VARIABLE), where, "variable-length string type");
  Hid sp{ok(H5Screate_simple(1, &n, nullptr), where, "dataspace"), H5Sclose};
  Hid ds{ok(H5Dcreate2(file_, name.c_str(), t.id, sp.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), where, "create"),
         H5Dclose};
  if (n) ok(H5Dwrite(ds.id, t.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), where, "write");
}

void Writer::write_attr(const std::string& obj, const std::string& name, int64_t file_type, int64_t mem_type,
                        const void* value) {
  const std::string where = path_ + ": attribute " + name + " of " + root_or(obj);
  Hid o{H5Oopen(file_, root_or(obj).c_str(), H5P_DEFAULT), H5Oclose};
  if (o.id < 0) throw FileError(where + ": object cannot be opened");
  if (ok(H5Aexists(o.id, name.c_str()), where, "H5Aexists") > 0) ok(H5Adelete(o.id, name.c_str()), where, "delete");
  Hid sp{ok(H5Screate(H5S_SCALAR), where, "dataspace"), H5Sclose};
  Hid a{H5Acreate2(o.id, name.c_str(), file_type, sp.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a.id < 0 || H5Awrite(a.id, mem_type, value) < 0) throw FileError(where + " cannot be written");
}

void Writer::attr(const std::string& obj, const std::string& name, double v) {
  write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}
void Writer::attr(const std::string& obj, const std::string& name, int64_t v) {
  write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
void Writer::attr(const std::string& obj, const std::string& name, const std::string& v) {
  const std::string where = path_ + ": attribute " + name + " of " + root_or(obj);
  Hid t{ok(H5Tcopy(H5T_C_S1), where, "string type"), H5Tclose};
  if (format_ == Format::checksummed) {
    // Fixed length (at least 1 byte: HDF5 has no empty fixed-length string), null-padded, UTF-8.
    const std::string buf = v.empty() ? std::string(1, '\0') : v;
    ok(H5Tset_size(t.id, buf.size()), where, "string size");
    ok(H5Tset_strpad(t.id, H5T_STR_NULLPAD), where, "string padding");
    ok(H5Tset_cset(t.id, H5T_CSET_UTF8), where, "string character set");
    write_attr(obj, name, t.id, t.id, buf.data());
  } else {
    ok(H5Tset_size(t.id, H5T_VARIABLE), where, "variable-length string type");
    const char* p = v.c_str();
    write_attr(obj, name, t.id, t.id, &p);
  }
}

void Writer::attrs(const std::string& obj, const std::vector<std::pair<std::string, AttrValue>>& values) {
  for (const auto& nv : values) {  // no structured binding: C++17 lambdas cannot capture one
    const std::string& name = nv.first;
    std::visit([&](const auto& x) { attr(obj, name, x); }, nv.second);
  }
}

void Writer::flush() { ok(H5Fflush(file_, H5F_SCOPE_GLOBAL), path_, "flush"); }

void Writer::close() {
  flush();
  const hid_t f = file_;
  file_ = -1;
  ok(H5Fclose(f), path_, "close");
}

std::string error_detail() {
  std::string out;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        if (n == 0 && e->desc) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &out);
  return out;
}

}  // namespace xbar::h5
