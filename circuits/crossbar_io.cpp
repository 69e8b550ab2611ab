#include "circuits/crossbar_io.h"

#include <cmath>

#include "common/error.h"
#include "common/h5io.h"

namespace xbar {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::string shape_text(const h5::Array& a) {
  std::string s;
  for (size_t d : a.shape) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

// Reads a rank-2 float dataset, rejecting non-finite values (and negative ones when nonneg).
Eigen::MatrixXd read_matrix(const h5::Reader& r, const std::string& name, const char* unit, bool nonneg) {
  const h5::Array a = r.read(name, 2, /*finite_only=*/false);
  const size_t rows = a.rows(), cols = a.cols();
  if (rows == 0 || cols == 0)
    throw FileError(r.path() + ": dataset " + name + " is empty (" + shape_text(a) + ")");
  for (size_t k = 0; k < a.data.size(); ++k) {
    const double v = a.data[k];
    const std::string where =
        r.path() + ": dataset " + name + "[" + std::to_string(k / cols) + "][" + std::to_string(k % cols) + "] = ";
    if (!std::isfinite(v)) throw FileError(where + format_double(v) + " " + unit + ": must be finite");
    if (nonneg && v < 0) throw FileError(where + format_double(v) + " " + unit + ": must be >= 0");
  }
  return Eigen::Map<const RowMatrix>(a.data.data(), Eigen::Index(rows), Eigen::Index(cols));
}

double read_resistance(const h5::Reader& r, const char* name, bool required) {
  const std::string where = r.path() + ": attribute " + name + " of /";
  if (!required && !r.has_attr("/", name)) return 0.0;
  const double v = r.attr_double("/", name);  // FileError if missing or not a numeric scalar
  if (!std::isfinite(v) || v < 0) throw FileError(where + " = " + format_double(v) + " ohm: must be finite and >= 0");
  return v;
}

}  // namespace

CrossbarCase read_crossbar_case(const std::string& path) {
  const h5::Reader r(path);
  CrossbarCase c;
  c.G = read_matrix(r, "G", "S", true);
  c.V = read_matrix(r, "V", "V", false);
  if (c.V.cols() != c.G.rows())
    throw FileError(path + ": dataset V is " + std::to_string(c.V.rows()) + " x " + std::to_string(c.V.cols()) +
                    " but G has " + std::to_string(c.G.rows()) + " rows: V must be (batch x " +
                    std::to_string(c.G.rows()) + ")");
  c.wires.r_row_ohm = read_resistance(r, "r_row", true);
  c.wires.r_col_ohm = read_resistance(r, "r_col", true);
  c.wires.r_source_ohm = read_resistance(r, "r_source", false);
  c.wires.r_sense_ohm = read_resistance(r, "r_sense", false);
  try {
    c.wires.validate();
  } catch (const ConfigError& e) {
    throw FileError(path + ": " + e.what());
  }
  return c;
}

void write_crossbar_result(const std::string& path, const Eigen::MatrixXd& I, const CrossbarCase& c,
                           const SolveStats& stats, double severity) {
  h5::Writer w(path);
  const RowMatrix rm = I;
  w.write("I", std::vector<double>(rm.data(), rm.data() + rm.size()), {size_t(I.rows()), size_t(I.cols())});
  w.attr("I", "units", std::string("A"));
  w.attr("/", "residual", stats.residual);
  w.attr("/", "solver", std::string("direct nested-dissection Kron reduction"));
  w.attr("/", "ir_drop_severity", severity);
  w.attr("/", "r_row", c.wires.r_row_ohm);
  w.attr("/", "r_col", c.wires.r_col_ohm);
  w.attr("/", "r_source", c.wires.r_source_ohm);
  w.attr("/", "r_sense", c.wires.r_sense_ohm);
  w.close();
}

}  // namespace xbar
