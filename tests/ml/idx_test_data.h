// A small, separable IDX image data set written for tests: class k (0..9) has a bright horizontal
// bar at rows 2k+3 and 2k+4 over low-level noise, so any of the zoo's classifiers learns it in a
// few hundred steps. Bytes come from a fixed linear congruential generator (platform-independent).
#pragma once
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace xbar::test {

struct IdxBytes {
  std::vector<uint8_t> images, labels;  // with their idx headers
};

inline void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

inline IdxBytes make_idx_bytes(uint32_t n, uint32_t seed) {
  IdxBytes r;
  put_be32(r.images, 0x0803);
  put_be32(r.images, n);
  put_be32(r.images, 28);
  put_be32(r.images, 28);
  put_be32(r.labels, 0x0801);
  put_be32(r.labels, n);
  uint32_t x = seed * 2654435761u + 1;
  auto next = [&] { return (x = x * 1664525u + 1013904223u) >> 24; };  // 0..255
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t k = i % 10;
    r.labels.push_back(uint8_t(k));
    for (uint32_t row = 0; row < 28; ++row)
      for (uint32_t col = 0; col < 28; ++col)
        r.images.push_back(uint8_t(row == 2 * k + 3 || row == 2 * k + 4 ? 180 + next() / 4 : next() / 8));
  }
  return r;
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<uint8_t>& b, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, b.data(), unsigned(b.size()));
    gzclose(f);
  } else {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }
}

// Writes train (n_train, uncompressed) and t10k (n_test, gzip) files under their MNIST names.
inline IdxBytes write_idx_set(const std::filesystem::path& dir, uint32_t n_train, uint32_t n_test) {
  std::filesystem::create_directories(dir);
  const IdxBytes train = make_idx_bytes(n_train, 1), test = make_idx_bytes(n_test, 2);
  write_bytes(dir / "train-images-idx3-ubyte", train.images, false);
  write_bytes(dir / "train-labels-idx1-ubyte", train.labels, false);
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", test.images, true);
  write_bytes(dir / "t10k-labels-idx1-ubyte.gz", test.labels, true);
  return train;
}

}  // namespace xbar::test
