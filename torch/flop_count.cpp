#include "torch/flop_count.h"

#include <mutex>
#include <utility>

namespace xbar {

namespace {
std::mutex mu;
std::map<int64_t, double> counts;
}  // namespace

at::Tensor op_flops_probe(const at::Tensor& out, const at::Tensor& operand, int64_t row, bool weight) {
  const double k = weight ? (operand.dim() > 0 && operand.size(0) > 0 ? double(operand.numel() / operand.size(0)) : 0)
                          : (operand.dim() > 0 ? double(operand.size(-1)) : 1);
  std::lock_guard<std::mutex> g(mu);
  counts[row] += 2.0 * double(out.numel()) * k;
  return out;
}

void flop_count_reset() {
  std::lock_guard<std::mutex> g(mu);
  counts.clear();
}

std::map<int64_t, double> flop_count_take() {
  std::lock_guard<std::mutex> g(mu);
  return std::exchange(counts, {});
}

}  // namespace xbar
