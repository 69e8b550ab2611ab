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

// Largest dataset read into memory (2 GiB as float64): far above any device table or mvm case.
constexpr size_t kMaxElements = size_t(1) << 28;

// Owns an HDF5 C identifier; closes it with the matching close function.
struct Hid {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Hid() {
    if (id >= 0) close(id);
  }
};

bool link_exists(H5::H5File& f, const std::string& path) {
  // Check each component: H5Lexists fails on a missing intermediate group.
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string part = path.substr(pos, next - pos);
    if (!part.empty()) {
      cur += "/" + part;
      if (H5Lexists(f.getId(), cur.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = next + 1;
  }
  return true;
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
  return checked(path_, [&] { return link_exists(*f_, object); });
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
    const size_t type_size = ds.getDataType().getSize();
    if (n > 0 && dcpl.id >= 0 && H5Pget_nfilters(dcpl.id) == 0 &&
        H5Dget_storage_size(ds.getId()) < hsize_t(n) * type_size)
      throw FileError(where + " declares " + std::to_string(n) + " values but stores only " +
                      std::to_string(H5Dget_storage_size(ds.getId())) + " bytes (unwritten or corrupted)");
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
    if (n) H5Dvlen_reclaim(t.getId(), sp.getId(), H5P_DEFAULT, p.data());
    return out;
  });
}

bool Reader::has_attr(const std::string& object, const std::string& name) const {
  return checked(path_ + ": " + object, [&] {
    if (!object.empty() && object != "/" && !link_exists(*f_, object)) return false;
    return H5Aexists_by_name(f_->getId(), object.empty() ? "/" : object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
  });
}

double Reader::attr_double(const std::string& object, const std::string& name) const {
  const std::string where = path_ + ": attribute " + name + " of " + (object.empty() ? "/" : object);
  if (!has_attr(object, name)) throw FileError(where + " is missing");
  return checked(where, [&] {
    Hid a{H5Aopen_by_name(f_->getId(), object.empty() ? "/" : object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
          H5Aclose};
    if (a.id < 0) throw FileError(where + " cannot be opened");
    Hid t{H5Aget_type(a.id), H5Tclose}, sp{H5Aget_space(a.id), H5Sclose};
    H5T_class_t cls = H5Tget_class(t.id);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw FileError(where + " is not numeric");
    if (H5Sget_simple_extent_npoints(sp.id) != 1) throw FileError(where + " is not a scalar");
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
    Hid a{H5Aopen_by_name(f_->getId(), object.empty() ? "/" : object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
          H5Aclose};
    if (a.id < 0) throw FileError(where + " cannot be opened");
    Hid t{H5Aget_type(a.id), H5Tclose}, sp{H5Aget_space(a.id), H5Sclose};
    if (H5Tget_class(t.id) != H5T_STRING) throw FileError(where + " is not a string");
    // H5Aread fills every element: an array of strings would overrun the one-string buffer.
    if (H5Sget_simple_extent_npoints(sp.id) != 1) throw FileError(where + " is not a single string");
    std::string s;
    if (H5Tis_variable_str(t.id) > 0) {
      char* p = nullptr;
      Hid mt{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(mt.id, H5T_VARIABLE);
      H5Tset_cset(mt.id, H5Tget_cset(t.id));  // h5py writes UTF-8; ASCII<->UTF-8 has no conversion
      if (H5Aread(a.id, mt.id, &p) < 0) throw FileError(where + " cannot be read");
      if (p) s = p;
      H5free_memory(p);
    } else {
      if (H5Tget_size(t.id) > (size_t(1) << 20)) throw FileError(where + " is longer than 1 MiB (corrupted?)");
      std::vector<char> buf(H5Tget_size(t.id) + 1, 0);
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
    const int n = H5Aget_num_attrs(o.id);
    for (int i = 0; i < n; ++i) {
      Hid a{H5Aopen_by_idx(o.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      ssize_t len = H5Aget_name(a.id, 0, nullptr);
      std::vector<char> buf(size_t(std::max<ssize_t>(len, 0)) + 1, 0);
      H5Aget_name(a.id, buf.size(), buf.data());
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

Writer::Writer(const std::string& path) : path_(path) {
  quiet();
  f_ = checked(path, [&] { return std::make_unique<H5::H5File>(path, H5F_ACC_TRUNC); });
}
Writer::~Writer() = default;

void Writer::group(const std::string& name) {
  checked(path_ + ": group " + name, [&] {
    if (!link_exists(*f_, name)) f_->createGroup(name);
  });
}

namespace {
template <class T>
void write_numeric(H5::H5File& f, const std::string& path, const std::string& name, const T* data,
                   const std::vector<size_t>& shape, const H5::PredType& mem, const H5::PredType& file) {
  checked(path + ": dataset " + name, [&] {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    H5::DataSpace sp(int(dims.size()), dims.data());
    H5::DataSet ds = f.createDataSet(name, file, sp);
    ds.write(data, mem);
  });
}
}  // namespace

void Writer::write(const std::string& name, const std::vector<double>& d, const std::vector<size_t>& shape) {
  write_numeric(*f_, path_, name, d.data(), shape, H5::PredType::NATIVE_DOUBLE, H5::PredType::IEEE_F64LE);
}
void Writer::write(const std::string& name, const std::vector<float>& d, const std::vector<size_t>& shape) {
  write_numeric(*f_, path_, name, d.data(), shape, H5::PredType::NATIVE_FLOAT, H5::PredType::IEEE_F32LE);
}

void Writer::write_strings(const std::string& name, const std::vector<std::string>& values) {
  checked(path_ + ": dataset " + name, [&] {
    std::vector<const char*> p;
    for (const auto& s : values) p.push_back(s.c_str());
    hsize_t n = p.size();
    H5::DataSpace sp(1, &n);
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    H5::DataSet ds = f_->createDataSet(name, t, sp);
    if (n) ds.write(p.data(), t);
  });
}

namespace {
// Writes a scalar attribute through the C API (works on groups and datasets alike).
void write_attr(H5::H5File& f, const std::string& path, const std::string& obj, const std::string& name,
                hid_t file_type, hid_t mem_type, const void* value) {
  const std::string where = path + ": attribute " + name + " of " + (obj.empty() ? "/" : obj);
  checked(where, [&] {
    Hid o{H5Oopen(f.getId(), obj.empty() ? "/" : obj.c_str(), H5P_DEFAULT), H5Oclose};
    if (o.id < 0) throw FileError(where + ": object cannot be opened");
    if (H5Aexists(o.id, name.c_str()) > 0) H5Adelete(o.id, name.c_str());
    Hid sp{H5Screate(H5S_SCALAR), H5Sclose};
    Hid a{H5Acreate2(o.id, name.c_str(), file_type, sp.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
    if (a.id < 0 || H5Awrite(a.id, mem_type, value) < 0) throw FileError(where + " cannot be written");
  });
}
}  // namespace

void Writer::attr(const std::string& obj, const std::string& name, double v) {
  write_attr(*f_, path_, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}
void Writer::attr(const std::string& obj, const std::string& name, int64_t v) {
  write_attr(*f_, path_, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
void Writer::attr(const std::string& obj, const std::string& name, const std::string& v) {
  Hid t{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(t.id, H5T_VARIABLE);
  const char* p = v.c_str();
  write_attr(*f_, path_, obj, name, t.id, t.id, &p);
}

void Writer::flush() {
  checked(path_, [&] { f_->flush(H5F_SCOPE_GLOBAL); });
}

}  // namespace xbar::h5
