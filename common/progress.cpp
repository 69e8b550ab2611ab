#include "common/progress.h"

#include <cstdio>

namespace xbar::models {

namespace {
std::string hms(double s) {
  char b[32];
  const long t = long(s + 0.5);
  if (t >= 3600) std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  return b;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total < 1 ? 1 : total), enabled_(enabled),
      start_(std::chrono::steady_clock::now()), last_(start_ - std::chrono::seconds(1)) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, const std::string& info) {
  done_ = done;
  info_ = info;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  draw(done, info);
}

void Progress::draw(int64_t done, const std::string& info) {
  if (!enabled_) return;
  const double f = double(done) / double(total_), el = seconds();
  const int width = 30, fill = int(f * width);
  std::string bar(size_t(fill), '=');
  if (fill < width) bar += '>' + std::string(size_t(width - fill - 1), ' ');
  const std::string eta = done > 0 ? hms(el * (1 - f) / f) : "?";
  std::fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld %s elapsed %s ETA %s   ", label_.c_str(), bar.c_str(), int(100 * f),
               (long long)done, (long long)total_, info.c_str(), hms(el).c_str(), eta.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_) return;
  draw(done_, info_);
  std::fprintf(stderr, "\n");
}

}  // namespace xbar::models
