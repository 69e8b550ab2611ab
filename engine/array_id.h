// The id of a physical array: its place in the layer (tile row, tile column, slice, member of the
// slice), packed into the index of its random streams. It depends only on the place, so a matrix
// that grows (a KV cache) keeps the random streams of the cells it already had.
#pragma once
#include <cstdint>
#include <string>

#include "common/error.h"

namespace xbar {

struct ArrayId {
  int64_t tile_row = 0, tile_col = 0, slice = 0, member = 0;

  // Field capacities of the packing; the packed values are part of the stored results.
  static constexpr int64_t kTileCols = 65536, kSlices = 64, kMembers = 2;

  uint64_t packed() const {
    check(tile_col, kTileCols, "tile column");
    check(slice, kSlices, "slice");
    check(member, kMembers, "array of the slice");
    return uint64_t(((tile_row * kTileCols + tile_col) * kSlices + slice) * kMembers + member);
  }

 private:
  static void check(int64_t v, int64_t cap, const char* what) {
    if (v < 0 || v >= cap)
      throw InputError(std::string("array id: ") + what + " " + std::to_string(v) + " is outside 0.." +
                       std::to_string(cap - 1));
  }
};

}  // namespace xbar
