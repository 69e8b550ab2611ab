// Thin checked HDF5 access: every failure becomes a FileError naming the file and object.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
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

class Writer {
 public:
  explicit Writer(const std::string& path);  // truncates; throws FileError if it cannot
  ~Writer();
  void group(const std::string& name);
  void write(const std::string& dataset, const std::vector<double>& data, const std::vector<size_t>& shape);
  void write(const std::string& dataset, const std::vector<float>& data, const std::vector<size_t>& shape);
  void write_strings(const std::string& dataset, const std::vector<std::string>& values);
  void attr(const std::string& object, const std::string& name, double value);
  void attr(const std::string& object, const std::string& name, int64_t value);
  void attr(const std::string& object, const std::string& name, const std::string& value);
  void flush();

 private:
  std::string path_;
  std::unique_ptr<H5::H5File> f_;
};

}  // namespace xbar::h5
