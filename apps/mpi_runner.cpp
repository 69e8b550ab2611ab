#include "apps/mpi_runner.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "common/error.h"

#ifdef XBAR_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only (the C++ bindings warn)
#include <mpi.h>
#endif

namespace xbar::mpi {

namespace {

bool launched() { return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_RANK"); }
[[maybe_unused]] int launched_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 1;
}
[[maybe_unused]] void nap(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

#ifdef XBAR_HAVE_MPI
bool g_init = false;

enum Tag { kReady = 1, kError = 2, kWork = 3 };

// Waits for a request by testing and sleeping (Open MPI's blocking calls spin a core).
void wait_quietly(MPI_Request& r) {
  for (int done = 0;; nap(1)) {
    MPI_Test(&r, &done, MPI_STATUS_IGNORE);
    if (done) return;
  }
}

void worker(const EvalFn& eval) {
  std::vector<double> msg;  // empty: first request; then {index, values...}
  while (true) {
    MPI_Send(msg.data(), int(msg.size()), MPI_DOUBLE, 0, kReady, MPI_COMM_WORLD);
    long long index = -1;
    MPI_Request r;
    MPI_Irecv(&index, 1, MPI_LONG_LONG, 0, kWork, MPI_COMM_WORLD, &r);
    wait_quietly(r);
    if (index < 0) return;
    try {
      const std::vector<double> v = eval(index);
      msg.assign(1, double(index));
      msg.insert(msg.end(), v.begin(), v.end());
    } catch (const std::exception& e) {
      const std::string text = "point " + std::to_string(index) + ": " + e.what();
      MPI_Send(text.data(), int(text.size()), MPI_CHAR, 0, kError, MPI_COMM_WORLD);
      while (true) nap(100);  // rank 0 reports and aborts the job
    }
  }
}

void coordinator(const std::vector<int64_t>& order, const EvalFn& eval, const ResultFn& on_result,
                 const std::function<bool()>& stop, const std::function<void()>& thread_setup) {
  std::mutex mu;
  std::deque<int64_t> queue(order.begin(), order.end());
  std::deque<std::pair<int64_t, std::vector<double>>> local_done;
  std::string local_error;
  bool local_finished = false, halt = false;
  auto next = [&]() -> int64_t {
    std::lock_guard<std::mutex> l(mu);
    if (halt || queue.empty()) return -1;
    const int64_t i = queue.front();
    queue.pop_front();
    return i;
  };
  std::thread local([&] {
    thread_setup();
    for (int64_t i; (i = next()) >= 0;) {
      try {
        std::vector<double> v = eval(i);
        std::lock_guard<std::mutex> l(mu);
        local_done.emplace_back(i, std::move(v));
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> l(mu);
        local_error = "point " + std::to_string(i) + ": " + e.what();
        break;
      }
    }
    std::lock_guard<std::mutex> l(mu);
    local_finished = true;
  });
  auto record = [&](int64_t i, const std::vector<double>& v) {
    on_result(i, v);
    if (stop()) {
      std::lock_guard<std::mutex> l(mu);
      halt = true;
    }
  };
  try {
    int workers = size() - 1;
    while (true) {
      std::deque<std::pair<int64_t, std::vector<double>>> got;
      bool finished;
      {
        std::lock_guard<std::mutex> l(mu);
        if (!local_error.empty()) abort(local_error, 2);
        got.swap(local_done);
        finished = local_finished;
      }
      for (const auto& [i, v] : got) record(i, v);
      if (finished && got.empty() && workers == 0) break;
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
      if (!flag) {
        nap(2);
        continue;
      }
      if (st.MPI_TAG == kError) {
        int n = 0;
        MPI_Get_count(&st, MPI_CHAR, &n);
        std::string text(size_t(n), '\0');
        MPI_Recv(text.data(), n, MPI_CHAR, st.MPI_SOURCE, kError, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        abort("rank " + std::to_string(st.MPI_SOURCE) + ", " + text, 2);
      }
      int n = 0;
      MPI_Get_count(&st, MPI_DOUBLE, &n);
      std::vector<double> msg(static_cast<size_t>(n));
      MPI_Recv(msg.data(), n, MPI_DOUBLE, st.MPI_SOURCE, kReady, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (n > 0) record(int64_t(msg[0]), std::vector<double>(msg.begin() + 1, msg.end()));
      const long long w = next();
      MPI_Send(&w, 1, MPI_LONG_LONG, st.MPI_SOURCE, kWork, MPI_COMM_WORLD);
      if (w < 0) --workers;
    }
  } catch (const std::exception& e) {
    abort(e.what(), 2);  // the local thread may still run: end the job rather than unwind past it
  }
  local.join();
}
#endif

}  // namespace

#ifdef XBAR_HAVE_MPI
bool built() { return true; }

void init_if_launched(int* argc, char*** argv) {
  if (g_init || !launched()) return;
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  g_init = true;
}

bool active() { return g_init && size() > 1; }
int rank() {
  int r = 0;
  if (g_init) MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int size() {
  int n = 1;
  if (g_init) MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}
int ranks_on_node() {
  if (!g_init) return 1;
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int n = 1;
  MPI_Comm_size(node, &n);
  MPI_Comm_free(&node);
  return n;
}

void finalize() {
  if (!g_init) return;
  MPI_Request r;
  MPI_Ibarrier(MPI_COMM_WORLD, &r);
  wait_quietly(r);
  MPI_Finalize();
  g_init = false;
}

void abort(const std::string& message, int code) {
  std::fprintf(stderr, "xbar: error (rank %d): %s\n", rank(), message.c_str());
  std::fflush(stderr);
  if (g_init) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void run_dynamic(const std::vector<int64_t>& order, const EvalFn& eval, const ResultFn& on_result,
                 const std::function<bool()>& stop, const std::function<void()>& thread_setup) {
  if (rank() == 0) {
    coordinator(order, eval, on_result, stop, thread_setup);
  } else {
    thread_setup();
    worker(eval);
  }
}

#else  // built without MPI: one rank

bool built() { return false; }
void init_if_launched(int*, char***) {
  if (launched() && launched_size() > 1)
    throw Error("this xbar was built without MPI (no MPI found or -DXBAR_MPI=OFF) but was started by mpirun with " +
                std::to_string(launched_size()) + " ranks: every rank would run the whole study into the same files. "
                "Install libopenmpi-dev and rebuild, or run without mpirun (--shard K/N splits a study)");
}
bool active() { return false; }
int rank() { return 0; }
int size() { return 1; }
int ranks_on_node() { return 1; }
void finalize() {}
void abort(const std::string& message, int code) {
  std::fprintf(stderr, "xbar: error: %s\n", message.c_str());
  std::exit(code);
}
void run_dynamic(const std::vector<int64_t>&, const EvalFn&, const ResultFn&, const std::function<bool()>&,
                 const std::function<void()>&) {
  throw Error("run_dynamic needs MPI (this xbar was built without it)");
}

#endif

}  // namespace xbar::mpi
