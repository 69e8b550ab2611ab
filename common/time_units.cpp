#include "common/time_units.h"

#include <cmath>
#include <cstdlib>
#include <utility>

#include "common/error.h"
#include "common/fields.h"

namespace xbar {

namespace {
// Largest first, for format_duration.
const std::vector<std::pair<std::string, double>>& units() {
  static const std::vector<std::pair<std::string, double>> u = {
      {"y", 365.25 * 86400.0}, {"mo", 365.25 * 86400.0 / 12.0}, {"w", 7 * 86400.0}, {"d", 86400.0},
      {"h", 3600.0},           {"min", 60.0},                    {"s", 1.0}};
  return u;
}
}  // namespace

double parse_duration_s(const std::string& text, const std::string& option) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin) throw ConfigError(option, text, "expected a number with an optional unit (s, min, h, d, w, mo, y)");
  const std::string unit(end);
  double mult = 0;
  if (unit.empty()) mult = 1;
  for (const auto& [name, s] : units())
    if (unit == name) mult = s;
  if (mult == 0) throw ConfigError(option, text, "unknown time unit '" + unit + "' (use s, min, h, d, w, mo, y)");
  const double t = v * mult;
  if (!std::isfinite(t) || t < 0) throw ConfigError(option, text, "must be a finite time >= 0");
  return t;
}

std::vector<double> parse_duration_list(const std::string& text, const std::string& option) {
  std::vector<double> out;
  size_t a = 0;
  while (true) {
    const size_t b = text.find(',', a);
    out.push_back(parse_duration_s(text.substr(a, b == std::string::npos ? std::string::npos : b - a), option));
    if (b == std::string::npos) break;
    a = b + 1;
  }
  return out;
}

std::string format_duration(double s) {
  for (const auto& [name, u] : units()) {
    const double n = s / u;
    if (n >= 1 && std::abs(n - std::round(n)) < 1e-9 * n) return format_double(std::round(n)) + name;
  }
  return format_double(s) + "s";
}

}  // namespace xbar
