// Random streams of the emulated chip. Every draw is a function of (chip key, stream, index), so
// each purpose has its own stream and draws never collide; the values are part of the stored
// results (tests/golden) and never change.
#pragma once
#include <cstdint>

namespace xbar {

enum class Stream : uint64_t {
  program = 1,          // programming error per cell (index: array id)
  fault = 2,            // stuck-at faults per cell (index: array id)
  drift_exponent = 3,   // drift exponent nu per cell (index: array id)
  adc_bank = 4,         // static ADC offset and gain per bank (index: first array id of the bank)
  read_noise = 5,       // read noise of a user or calibration read (index: read index)
  adc_noise = 6,        // ADC noise of a user or calibration read (index: read index)
  ref_read_noise = 7,   // read noise of a drift-compensation reference read (index: read time bits)
  ref_adc_noise = 8,    // ADC noise of a drift-compensation reference read (index: read time bits)
};

inline uint64_t stream_id(Stream s) { return uint64_t(s); }

}  // namespace xbar
