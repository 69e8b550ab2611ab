// MPI for studies: the only code that sees mpi.h (built when CMake finds MPI, XBAR_MPI). Without
// MPI, or when not launched by mpirun, everything here reports one rank and never calls MPI.
//
// Scheduling: rank 0 keeps the queue of points. Its main thread only coordinates (polls for
// messages every 2 ms, writes the results file) while a second thread of rank 0 evaluates points
// like any other rank, so N ranks keep N cores' worth of ranks evaluating. Each rank asks for one
// point at a time (dynamic, so unequal points balance); waiting ranks poll with sleeps instead of
// Open MPI's busy wait, so an idle rank does not steal a core from a working one.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace xbar::mpi {

bool built();  // compiled with MPI
// Initialises MPI (threads: funneled) when launched by mpirun/srun (OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_RANK set), else does nothing. Throws Error when launched with several ranks
// by a binary built without MPI (every rank would run the whole study into the same files).
void init_if_launched(int* argc, char*** argv);
bool active();  // initialised with more than one rank
int rank();
int size();
int ranks_on_node();  // ranks sharing this machine (for threads per rank)
void finalize();      // waits (sleeping) for every rank, then MPI_Finalize; no-op when not initialised
// Prints "xbar: error (rank R): message" and ends every rank (MPI_Abort) with `code`; exits if not active.
[[noreturn]] void abort(const std::string& message, int code);

using EvalFn = std::function<std::vector<double>(int64_t index)>;
using ResultFn = std::function<void(int64_t index, const std::vector<double>& values)>;

// Rank 0 passes the point indices in hand-out order; other ranks pass an empty vector. Results
// reach `on_result` on rank 0's calling thread in arrival order. After each result `stop()` is
// asked (rank 0); once true no more points are handed out and the points in flight are still
// collected. `thread_setup` runs on each evaluating thread before its first point (thread counts).
// An exception from `eval` on any rank, or from `on_result`, ends the job through abort().
void run_dynamic(const std::vector<int64_t>& order, const EvalFn& eval, const ResultFn& on_result,
                 const std::function<bool()>& stop, const std::function<void()>& thread_setup);

}  // namespace xbar::mpi
