// xbar: noise-aware functional emulator for analog in-memory computing.
#include <c10/util/Exception.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

const std::vector<Command>& commands() {
  static const std::vector<Command> c = {
      {"demo", "one layer through the engine at several ADC resolutions and devices: error table", xbar::cli::cmd_demo},
      {"convert", "convert a TorchScript model: linear/conv/attention products onto emulated crossbars", xbar::cli::cmd_convert},
      {"eval", "accuracy / bits-per-char of a model on emulated chips (mean, std over chips)", xbar::cli::cmd_eval},
      {"sweep", "accuracy-versus-precision study over any config keys (resumable; CSV + HDF5)", xbar::cli::cmd_sweep},
      {"tune", "cheapest per-layer ADC/DAC precision within an accuracy-loss budget (cost model; resumable)", xbar::cli::cmd_tune},
      {"merge", "combine the shard results files of a study (xbar sweep --shard K/N) into one", xbar::cli::cmd_merge},
      {"rerun", "re-run one study point from its results file and check it bit for bit", xbar::cli::cmd_rerun},
      {"mvm", "run a matrix-vector product W x through the emulated crossbar (HDF5 in/out)", xbar::cli::cmd_mvm},
      {"bench", "benchmarks: `xbar bench engine` (engine cost as ratios to a plain GEMM), `xbar bench cost`", xbar::cli::cmd_bench},
      {"hardware", "hardware description files of the cost model: `xbar hardware schema|show FILE`", xbar::cli::cmd_hardware},
      {"crossbar", "circuit-level array tools: `xbar crossbar solve` (exact IR-drop solve, HDF5 in/out)", xbar::cli::cmd_crossbar},
      {"device", "device characterization files: `xbar device import|tabulate|show|validate` (HDF5)", xbar::cli::cmd_device},
      {"train", "train a zoo model (mlp, cnn, cnn7k, vit, gpt) in float, or retrain one on the chip (--hwa)", xbar::cli::cmd_train},
  };
  return c;
}

bool debugging() {
  const char* debug = std::getenv("XBAR_DEBUG");
  return debug && std::string(debug) == "1";
}

// LibTorch's errors carry a C++ backtrace and, from the TorchScript interpreter, the script's
// traceback: users get the last line (the error itself); XBAR_DEBUG=1 prints everything.
std::string user_message(const std::string& full, const std::string& without_backtrace) {
  if (debugging()) return full;
  std::string m = without_backtrace;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  const size_t nl = m.rfind('\n');
  if (nl == std::string::npos || m.find("Traceback of TorchScript") == std::string::npos) return m;
  return m.substr(nl + 1) + " (XBAR_DEBUG=1 shows the TorchScript traceback)";
}

void usage() {
  std::printf(
      "xbar - emulate neural-network matrix products on analog in-memory-computing crossbars\n\n"
      "usage: xbar <command> [options]      (xbar <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : commands()) std::printf("  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed buffers in the heap for reuse: a model evaluation allocates the same large
  // matrices (patches, engine outputs) at every layer call, and glibc's default returns each one
  // to the kernel (mmap/munmap) so the next call page-faults it in again, which cost the CNN's
  // evaluation 3x its time. Buffers above 1 GiB are still mapped separately.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 1 : 0;
  }
  for (const auto& c : commands()) {
    if (std::string(argv[1]) == c.name) {
      try {
        return c.run(argc - 1, argv + 1);
      } catch (const c10::Error& e) {
        std::fprintf(stderr, "xbar %s: error: %s\n", c.name, user_message(e.what(), e.what_without_backtrace()).c_str());
        return 2;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "xbar %s: error: %s\n", c.name, user_message(e.what(), e.what()).c_str());
        return 2;
      }
    }
  }
  std::fprintf(stderr, "xbar: unknown command '%s' (see xbar --help)\n", argv[1]);
  return 2;
}
