// The read of a programmed layer: DAC -> array products with read noise -> ADC -> digital
// shift-add, accumulation over row tiles, unscaling, then the digital stage (drift compensation
// factors, bias). The kind of read decides its random streams and what it returns; nothing here
// changes the layer, so a read's only effect is its output.
#pragma once
#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <vector>

#include "circuits/dac.h"
#include "common/matrix.h"
#include "engine/config.h"
#include "engine/row_source.h"
#include "engine/tile.h"

namespace xbar {

enum class ReadKind {
  user,             // y = W x + b; noise streams indexed by the read number
  calibration,      // column-signal magnitudes for the ADC ranges; no conversion, no output
  drift_reference,  // drift-compensation reference: outputs without factors or bias; noise
                    // streams indexed by the read time, so they never shift the user's reads
};

// What a calibration read hands to a user read of the same inputs that follows it (a forward that
// calibrates on its own batch): the DAC output, and the array products and read-noise variances
// when they fit in kKeptProductsLimit bytes. Only the noise draws differ between the two reads, so
// the user read takes these instead of computing them again and its output is that of a separate
// read. The caller owns it from the calibration to the user read; other reads in between (drift
// compensation's reference reads) leave it alone.
struct KeptProducts {
  Eigen::Index batch = -1;  // -1: nothing kept (no calibration read ran)
  DacOutput dac;
  std::vector<RowMatrixXf> products, variances;  // per (work item, tile slice); empty: over the limit
  std::vector<Eigen::VectorXf> ref_variances;
};

inline constexpr int64_t kKeptProductsLimit = int64_t(256) << 20;  // bytes
// Input rows a read from a RowSource takes and converts at a time (about; whole batch chunks).
inline constexpr Eigen::Index kSourceBlockBytes = Eigen::Index(1) << 20;

struct ReadRequest {
  ReadKind kind = ReadKind::user;
  uint64_t index = 0;  // user: read number since programming; drift_reference: bits of the read
                       // time; calibration: unused (its streams are those of user read 2^64 - 1)
  KeptProducts* kept = nullptr;  // calibration: filled; user: taken (X must be the calibration's)
};

// The programmed layer as a read sees it.
struct ReadTarget {
  const XbarConfig& cfg;
  const std::vector<Tile>& tiles;
  const ReadState& state;
  int out = 0;
  uint64_t chip_key = 0;
  const std::vector<float>& bias;          // per output
  const std::vector<float>& drift_factor;  // per output (empty: none)
};

// Events of one user read that the cost model prices (engine/cost.h); summed per work item and
// then in item order, so they are identical at any thread count.
struct ReadEvents {
  int64_t analog_macs = 0;     // rows x columns x vectors of every tile read
  int64_t input_pulses = 0;    // nonzero input-slice values x arrays they drive
  int64_t input_drives = 0;    // rows x input slices x vectors x arrays
  double array_v2g_uS = 0;     // sum_i v_i^2 sum_j G_ij over array reads (v in full-scale units)
  int64_t column_outputs = 0;  // column signals (per tile, weight slice, input slice, vector)
  int64_t accumulations = 0;   // partial sums added across row tiles

  void add(const ReadEvents& o);
};

struct ReadOutput {
  RowMatrixXf Y;  // batch x out (empty for calibration)
  // calibration: per (tile, slice), the |column signal| at cfg.adc.percentile (adc_percentile_rank)
  std::vector<float> full_scales;
  int64_t conversions = 0, saturations = 0, dac_clipped = 0;
  ReadEvents events;  // user reads with event counting on; zero otherwise
};

class ReadKernel {
 public:
  ReadKernel();
  ~ReadKernel();
  ReadKernel(ReadKernel&&) noexcept;
  ReadKernel& operator=(ReadKernel&&) noexcept;

  // X: batch x in, every entry finite.
  ReadOutput run(const ReadTarget& target, ReadRequest request, const Eigen::Ref<const RowMatrixXf>& X);
  // The same for the rows of `source` (a user read without kept products), filled and converted
  // a block at a time: the output is run()'s on all the rows, bit for bit.
  ReadOutput run(const ReadTarget& target, ReadRequest request, const RowSource& source);
  // Counting the cost events of user reads (on by default; off only to measure its overhead).
  void count_events(bool on) { count_events_ = on; }

  struct Scratch;  // matrices of one work item

 private:
  using BlockRef = Eigen::Ref<const RowMatrixXf>;
  using BlockFn = std::function<BlockRef(Eigen::Index first, Eigen::Index n)>;
  // The read of B rows of `cols` inputs, rows_of(first, n) giving rows [first, first + n): all at
  // once, or (in_blocks) in blocks of whole batch chunks.
  ReadOutput run_blocks(const ReadTarget& target, ReadRequest request, Eigen::Index B, Eigen::Index cols,
                        bool in_blocks, const BlockFn& rows_of);

  // One per worker thread, kept across reads: fresh buffers would cost a page fault per 4 KiB on
  // every read (they are mmap-sized).
  std::vector<Scratch> scratch_;
  std::vector<ReadEvents> item_events_;
  DacOutput dac_;  // the inputs' DAC output, kept for the same reason
  RowMatrixXf rows_;  // a block of a RowSource's rows
  bool count_events_ = true;
};

}  // namespace xbar
