// Timing helpers of the benchmark commands: wall and process CPU time of one call, medians.
#pragma once
#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <string>
#include <functional>
#include <vector>

namespace xbar::cli {

struct Timing {
  double wall = 0, cpu = 0;  // seconds; cpu: process CPU time over all threads
};

inline double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

inline Timing time_once(const std::function<void()>& f) {
  const auto a = std::chrono::steady_clock::now();
  const double c = process_cpu_seconds();
  f();
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count(), process_cpu_seconds() - c};
}

// The machine's load averages (1, 5, 15 min) from /proc/loadavg: benchmark lines state the load
// they were measured under.
inline std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return f ? a + " " + b + " " + c : "unknown";
}

inline double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace xbar::cli
