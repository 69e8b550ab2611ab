#include "ml/fashion_mnist.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>

#include "common/error.h"

namespace xbar::data {

namespace {

const char* kInstallHint = " (Fashion-MNIST comes with Debian: apt-get install dataset-fashion-mnist; tools/setup.sh does this)";

uint32_t be32(const std::vector<uint8_t>& b, size_t off) {
  return uint32_t(b[off]) << 24 | uint32_t(b[off + 1]) << 16 | uint32_t(b[off + 2]) << 8 | uint32_t(b[off + 3]);
}

// Checks an idx header (magic 0x0000080D: unsigned bytes, D dimensions) and returns the sizes;
// the payload must be exactly prod(sizes) bytes.
std::vector<int64_t> idx_header(const std::vector<uint8_t>& b, int dims, const std::string& path) {
  const size_t head = 4 + 4 * size_t(dims);
  if (b.size() < head) throw FileError(path + ": truncated idx header (" + std::to_string(b.size()) + " bytes)");
  const uint32_t magic = be32(b, 0), want = 0x0800u | uint32_t(dims);
  if (magic != want) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "bad idx magic 0x%08x (expected 0x%08x)", magic, want);
    throw FileError(path + ": " + buf);
  }
  std::vector<int64_t> sizes;
  size_t n = 1;
  for (int d = 0; d < dims; ++d) {
    sizes.push_back(be32(b, 4 + 4 * size_t(d)));
    n *= size_t(sizes.back());
  }
  if (b.size() != head + n)
    throw FileError(path + ": idx payload has " + std::to_string(b.size() - head) + " bytes, header says " +
                    std::to_string(n) + " (truncated or corrupt file)");
  return sizes;
}

}  // namespace

std::string fashion_mnist_dir() {
  const char* env = std::getenv("XBAR_FASHION_MNIST");
  return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  if (!std::filesystem::exists(path)) throw FileError(path + ": file not found" + kInstallHint);
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw FileError(path + ": cannot open");
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    const int n = gzread(f, buf.data(), unsigned(buf.size()));
    if (n < 0) {
      int code = 0;
      const std::string msg = gzerror(f, &code);
      gzclose(f);
      throw FileError(path + ": gzip error: " + msg);
    }
    if (n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
  // gzread returns 0 both at a clean end and on a truncated stream; gzclose reports the latter.
  if (gzclose(f) != Z_OK) throw FileError(path + ": truncated or corrupt gzip stream");
  return out;
}

FashionMnist load_fashion_mnist(const std::string& split, const std::string& dir) {
  if (split != "train" && split != "test") throw Error("Fashion-MNIST split '" + split + "': expected train or test");
  const std::string prefix = dir + "/" + (split == "train" ? "train" : "t10k");
  const std::string ipath = prefix + "-images-idx3-ubyte.gz", lpath = prefix + "-labels-idx1-ubyte.gz";
  const auto ib = read_gzip(ipath);
  const auto lb = read_gzip(lpath);
  const auto is = idx_header(ib, 3, ipath);
  const auto ls = idx_header(lb, 1, lpath);
  if (is[1] != 28 || is[2] != 28)
    throw FileError(ipath + ": images are " + std::to_string(is[1]) + "x" + std::to_string(is[2]) + ", expected 28x28");
  if (is[0] != ls[0])
    throw FileError(ipath + " has " + std::to_string(is[0]) + " images but " + lpath + " has " + std::to_string(ls[0]) + " labels");
  FashionMnist d;
  const auto bytes = at::from_blob(const_cast<uint8_t*>(ib.data()) + 16, {is[0], 1, 28, 28}, at::kByte);
  d.images = bytes.to(at::kFloat).div_(255.f).sub_(kFashionMean).div_(kFashionStd);
  d.labels = at::from_blob(const_cast<uint8_t*>(lb.data()) + 8, {ls[0]}, at::kByte).to(at::kLong);
  if (d.labels.max().item<int64_t>() > 9) throw FileError(lpath + ": label " + std::to_string(d.labels.max().item<int64_t>()) + " > 9");
  return d;
}

}  // namespace xbar::data
