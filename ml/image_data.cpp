#include "ml/image_data.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "common/error.h"

namespace xbar::data {

namespace {

const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";
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

void check_split(const std::string& split) {
  if (split != "train" && split != "test") throw Error("image data split '" + split + "': expected train or test");
}

}  // namespace

std::string default_image_dir() {
  const char* env = std::getenv("XBAR_FASHION_MNIST");
  return env && *env ? env : kDefaultDir;
}

std::string ImageData::name() const {
  std::filesystem::path p(dir);
  if (!p.has_filename()) p = p.parent_path();  // "dir/" names dir
  return p.filename().string();
}

std::string idx_file(const std::string& dir, const std::string& split, IdxKind k) {
  check_split(split);
  const std::string prefix = dir + "/" + (split == "train" ? "train" : "t10k");
  const std::string kind = enum_string(k), dims = k == IdxKind::images ? "idx3" : "idx1";
  std::string tried;
  for (const std::string sep : {"-", "."})
    for (const std::string gz : {".gz", ""}) {
      const std::string p = prefix + "-" + kind + sep + dims + "-ubyte" + gz;
      if (std::filesystem::exists(p)) return p;
      tried += (tried.empty() ? "" : ", ") + p;
    }
  throw FileError(prefix + "-" + kind + "-" + dims + "-ubyte.gz: file not found (tried " + tried + ")" +
                  (dir == kDefaultDir ? kInstallHint : ""));
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  if (!std::filesystem::exists(path)) throw FileError(path + ": file not found" + kInstallHint);
  // gzread passes a file without a gzip header through unchanged.
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

namespace {

// The exact moments of one training-images file.
Normalisation compute_normalisation(const std::string& path) {
  const auto b = read_gzip(path);
  const auto s = idx_header(b, 3, path);
  if (s[0] < 1) throw FileError(path + ": no images");
  // Exact moments from the byte histogram.
  std::array<int64_t, 256> hist{};
  for (size_t i = 16; i < b.size(); ++i) ++hist[b[i]];
  const double n = double(b.size() - 16);
  double mean = 0, var = 0;
  for (int v = 0; v < 256; ++v) mean += double(hist[v]) * v / 255.0 / n;
  for (int v = 0; v < 256; ++v) var += double(hist[v]) * (v / 255.0 - mean) * (v / 255.0 - mean) / n;
  const double sd = std::sqrt(var);
  if (!(sd > 0)) throw FileError(path + ": every pixel has the same value; no normalisation can be derived");
  auto round4 = [](double x) { return float(std::round(x * 1e4) / 1e4); };
  return {round4(mean), round4(sd)};
}

}  // namespace

Normalisation normalisation_of(const std::string& dir) {
  const std::string path = idx_file(dir, "train", IdxKind::images);
  // Every load of an image set normalises with it: computed once per file version per process.
  std::error_code ec_size, ec_time;
  const auto size = std::filesystem::file_size(path, ec_size);
  const auto mtime = std::filesystem::last_write_time(path, ec_time).time_since_epoch().count();
  const bool keyed = !ec_size && !ec_time;
  const std::string key = path + "\n" + std::to_string(size) + "\n" + std::to_string(mtime);
  static std::mutex mu;
  static std::map<std::string, Normalisation> known;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (keyed && known.count(key)) return known.at(key);
  }
  const Normalisation n = compute_normalisation(path);
  if (keyed) {
    std::lock_guard<std::mutex> lock(mu);
    known[key] = n;
  }
  return n;
}

ImageSet load_images(const ImageData& d, const std::string& split) {
  const std::string ipath = idx_file(d.dir, split, IdxKind::images), lpath = idx_file(d.dir, split, IdxKind::labels);
  const auto ib = read_gzip(ipath);
  const auto lb = read_gzip(lpath);
  const auto is = idx_header(ib, 3, ipath);
  const auto ls = idx_header(lb, 1, lpath);
  if (is[0] != ls[0])
    throw FileError(ipath + " has " + std::to_string(is[0]) + " images but " + lpath + " has " + std::to_string(ls[0]) + " labels");
  if (is[0] < 1) throw FileError(ipath + ": no images");
  const Normalisation norm = d.norm ? *d.norm : normalisation_of(d.dir);
  ImageSet s;
  const auto bytes = at::from_blob(const_cast<uint8_t*>(ib.data()) + 16, {is[0], 1, is[1], is[2]}, at::kByte);
  s.images = bytes.to(at::kFloat).div_(255.f).sub_(norm.mean).div_(norm.std);
  s.labels = at::from_blob(const_cast<uint8_t*>(lb.data()) + 8, {ls[0]}, at::kByte).to(at::kLong);
  return s;
}

}  // namespace xbar::data
