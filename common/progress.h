// A one-line progress bar with ETA on stderr (redrawn at most 5 times a second).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace xbar::models {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled);
  void update(int64_t done, const std::string& info);
  void finish();  // final redraw and newline
  double seconds() const;

 private:
  void draw(int64_t done, const std::string& info);
  std::string label_;
  int64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
  int64_t done_ = 0;
  std::string info_;
};

}  // namespace xbar::models
