// The one HDF5 layer of xbar: every HDF5 call is checked where it is made, and every failure becomes
// a FileError naming the file and the object (dataset, group or attribute). No other file includes
// an HDF5 header.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace H5 {
class H5File;
}

namespace xbar::h5 {

// A row-major array read from a dataset, with its shape.
struct Array {
  std::vector<double> data;
  std::vector<size_t> shape;
  size_t rows() const { return shape.empty() ? 0 : shape[0]; }
  size_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }
};

class Reader {
 public:
  explicit Reader(const std::string& path);  // throws FileError if missing or not HDF5
  ~Reader();
  const std::string& path() const { return path_; }
  bool has(const std::string& object) const;  // dataset or group (path with '/')
  // Reads a numeric dataset of the given rank (-1: any) as float64; checks rank, dtype class and
  // (when finite_only) that every value is finite.
  Array read(const std::string& dataset, int rank = -1, bool finite_only = true) const;
  // A 1-D dataset of variable-length strings (as written by Writer::write_strings).
  std::vector<std::string> read_strings(const std::string& dataset) const;
  bool has_attr(const std::string& object, const std::string& name) const;
  double attr_double(const std::string& object, const std::string& name) const;
  double attr_double(const std::string& object, const std::string& name, double fallback) const;
  std::string attr_string(const std::string& object, const std::string& name) const;
  std::vector<std::string> attr_names(const std::string& object) const;
  std::vector<std::string> children(const std::string& group) const;

 private:
  std::string path_;
  std::unique_ptr<H5::H5File> f_;
};

// How a Writer lays out a file.
enum class Format {
  // HDF5's defaults: contiguous datasets, variable-length string attributes (results, mvm and
  // crossbar files).
  plain,
  // Everything HDF5 would parse without a checksum is kept out of the file (device files, which
  // users exchange and the validator must survive corrupted): the 1.8+ file format (checksummed
  // superblock, object headers, link and attribute storage), fixed-length UTF-8 string
  // attributes inside the object headers instead of variable-length strings in the unchecksummed
  // global heap, datasets up to 32 KiB compact (inside the object header), larger ones one chunk
  // with the Fletcher-32 filter. Byte-level corruption then reads as a checksum error.
  checksummed,
};

class Writer {
 public:
  // Creates (truncates) path; throws FileError if it cannot.
  explicit Writer(const std::string& path, Format format = Format::plain);
  ~Writer();  // closes without reporting errors; call close() to have them reported
  const std::string& path() const { return path_; }
  void group(const std::string& name);
  // shape {} writes a scalar dataset of data[0].
  void write(const std::string& dataset, const std::vector<double>& data, const std::vector<size_t>& shape);
  void write(const std::string& dataset, const std::vector<float>& data, const std::vector<size_t>& shape);
  void write_strings(const std::string& dataset, const std::vector<std::string>& values);
  // Scalar attributes of a group or dataset ("/" or "" is the root); an existing one is replaced.
  void attr(const std::string& object, const std::string& name, double value);
  void attr(const std::string& object, const std::string& name, int64_t value);
  void attr(const std::string& object, const std::string& name, const std::string& value);
  // Several scalar attributes of one object, in order.
  using AttrValue = std::variant<double, int64_t, std::string>;
  void attrs(const std::string& object, const std::vector<std::pair<std::string, AttrValue>>& values);
  void flush();
  void close();  // flushes and closes; the Writer is unusable afterwards

 private:
  void write_numeric(const std::string& name, const void* data, size_t count, const std::vector<size_t>& shape,
                     int64_t file_type, int64_t mem_type, size_t elem_size);
  void write_attr(const std::string& object, const std::string& name, int64_t file_type, int64_t mem_type,
                  const void* value);
  std::string path_;
  Format format_;
  int64_t file_ = -1;  // hid_t
};

// The innermost message of HDF5's error stack for the calling thread ("incorrect metadata
// checksum after all read tries", ...), empty if none: tells a corrupted file from a missing or
// mistyped object.
std::string error_detail();

}  // namespace xbar::h5
