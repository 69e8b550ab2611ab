// Loops over independent indices on OpenMP threads, or inline on the calling thread when one
// thread or one index would run, or the caller says the work is too small to share: entering an
// OpenMP region costs a futex wake even with one thread, which dominates small reads (an
// attention operand's read is a few microseconds of work).
//
// Inside f, nested parallelism is off (omp_get_max_threads() == 1 on either path), so Eigen's
// products in f run on f's thread and give the same results at any thread count.
#pragma once
#include <omp.h>

#include <cstdint>
#include <vector>

namespace xbar {

enum class Split {
  even,     // equal blocks of indices per thread (uniform cost per index)
  dynamic,  // one index at a time to the next free thread (uneven cost)
};

// Sum over i of f(i) (T: default-constructible, +=), in an order that may depend on the threads:
// T must add associatively (integer counts).
template <class T, class F>
T parallel_sum(int64_t n, int threads, Split split, bool share, F&& f) {
  T total{};
  if (threads <= 1 || n <= 1 || !share) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    for (int64_t i = 0; i < n; ++i) total += f(i);
    omp_set_num_threads(saved);
    return total;
  }
  std::vector<T> part(static_cast<size_t>(threads), T{});
#pragma omp parallel num_threads(threads)
  {
    omp_set_num_threads(1);  // this region's tasks only
    T local{};
    if (split == Split::even) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; ++i) local += f(i);
    } else {
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < n; ++i) local += f(i);
    }
    part[size_t(omp_get_thread_num())] = local;
  }
  for (const T& p : part) total += p;
  return total;
}

// f(i) for i in [0, n).
template <class F>
void parallel_for(int64_t n, int threads, Split split, bool share, F&& f) {
  parallel_sum<int>(n, threads, split, share, [&](int64_t i) {
    f(i);
    return 0;
  });
}

}  // namespace xbar
