// Durations with units for the command line: "1s", "1h", "1d", "1mo", "1y", "90" (seconds).
// 1 mo = 2.6298e6 s (a year / 12) and 1 y = 3.15576e7 s (365.25 days).
#pragma once
#include <string>
#include <vector>

namespace xbar {

// Seconds in a number with an optional unit s, min, h, d, w, mo, y. Throws ConfigError naming
// `option` and the text for a bad number, unknown unit or a negative / non-finite value.
double parse_duration_s(const std::string& text, const std::string& option);
// A comma-separated list of durations, e.g. "1s,1h,1d,1mo,1y".
std::vector<double> parse_duration_list(const std::string& text, const std::string& option);
// Short label in the largest unit that divides the value exactly ("1h", "30d"), else seconds.
std::string format_duration(double s);

}  // namespace xbar
