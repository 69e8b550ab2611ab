// Fashion-MNIST and fortunes loaders: sizes, checksums, split rule and errors.
#include "tests/ml/torch_doctest.h"

#include <ATen/ATen.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <unistd.h>
#include <fstream>

#include "common/error.h"
#include "common/sha256.h"
#include "ml/fashion_mnist.h"
#include "ml/text_corpus.h"

using namespace xbar;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("xbar_test_data_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write_gz(const fs::path& p, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  gzclose(f);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const FileError& e) {
    return e.what();
  }
  return "(no FileError thrown)";
}

}  // namespace

TEST_CASE("Fashion-MNIST: sizes, label counts and normalisation") {
  const auto train = data::load_fashion_mnist("train");
  const auto test = data::load_fashion_mnist("test");
  CHECK(train.images.sizes() == at::IntArrayRef({60000, 1, 28, 28}));
  CHECK(test.images.sizes() == at::IntArrayRef({10000, 1, 28, 28}));
  CHECK((train.images.scalar_type() == at::kFloat));
  CHECK((train.labels.scalar_type() == at::kLong));
  // Both splits are balanced: 6000 / 1000 images of each of the 10 classes.
  CHECK(at::bincount(train.labels).equal(at::full({10}, 6000, at::kLong)));
  CHECK(at::bincount(test.labels).equal(at::full({10}, 1000, at::kLong)));
  // Undo the normalisation: the bytes' sums were computed independently with
  //   /usr/bin/python3 -c 'import gzip; print(sum(gzip.open(F).read()[16:]))'
  const auto bytes = [](const at::Tensor& x) {
    return (x * data::kFashionStd + data::kFashionMean).mul(255).round().to(at::kLong).sum().item<int64_t>();
  };
  CHECK(bytes(train.images) == 3431114169LL);
  CHECK(bytes(test.images) == 573469082LL);
  // The constants are the training set's pixel mean and std (to the 4 digits they are given with).
  CHECK(std::abs(train.images.mean().item<double>()) < 1e-3);
  CHECK(train.images.std().item<double>() == doctest::Approx(1).epsilon(1e-3));
}

TEST_CASE("Fashion-MNIST: decompressed files match their SHA-256") {
  // From: /usr/bin/python3 -c 'import gzip,hashlib; print(hashlib.sha256(gzip.open(F).read()).hexdigest())'
  const std::vector<std::pair<std::string, std::string>> want = {
      {"train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
      {"train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
      {"t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
      {"t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"}};
  for (const auto& [file, sha] : want) {
    const auto b = data::read_gzip(data::fashion_mnist_dir() + "/" + file);
    CHECK_MESSAGE(sha256_hex(std::string(b.begin(), b.end())) == sha, file);
  }
}

TEST_CASE("Fashion-MNIST: missing, truncated and malformed files are errors naming the file") {
  const fs::path d = temp_dir("fmnist");
  std::string e = error_of([&] { data::load_fashion_mnist("test", d.string()); });
  CHECK(e.find((d / "t10k-images-idx3-ubyte.gz").string()) != std::string::npos);
  CHECK(e.find("apt-get install dataset-fashion-mnist") != std::string::npos);

  // Truncated gzip stream: the first half of the real labels file.
  std::ifstream in(data::fashion_mnist_dir() + "/t10k-labels-idx1-ubyte.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path cut = d / "cut.gz";
  std::ofstream(cut, std::ios::binary).write(gz.data(), std::streamsize(gz.size() / 2));
  e = error_of([&] { data::read_gzip(cut.string()); });
  CHECK(e.find(cut.string()) != std::string::npos);
  CHECK(e.find("truncated") != std::string::npos);

  // Bad magic in the images file, then a payload shorter than the header says.
  std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, 2, 3, 4};
  std::vector<uint8_t> images = {0, 0, 8, 1, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
  images.resize(16 + 2 * 784);
  write_gz(d / "t10k-labels-idx1-ubyte.gz", labels);
  write_gz(d / "t10k-images-idx3-ubyte.gz", images);
  e = error_of([&] { data::load_fashion_mnist("test", d.string()); });
  CHECK(e.find("t10k-images-idx3-ubyte.gz") != std::string::npos);
  CHECK(e.find("bad idx magic 0x00000801") != std::string::npos);
  images[3] = 3;
  images.resize(16 + 784);
  write_gz(d / "t10k-images-idx3-ubyte.gz", images);
  e = error_of([&] { data::load_fashion_mnist("test", d.string()); });
  CHECK(e.find("t10k-images-idx3-ubyte.gz: idx payload has 784 bytes, header says 1568") != std::string::npos);
  // A well-formed pair loads: 2 black images normalise to -mean/std.
  images.resize(16 + 2 * 784);
  write_gz(d / "t10k-images-idx3-ubyte.gz", images);
  const auto tiny = data::load_fashion_mnist("test", d.string());
  CHECK(tiny.labels.equal(at::tensor({3, 4}, at::kLong)));
  CHECK(tiny.images[1][0][5][5].item<float>() == doctest::Approx(-data::kFashionMean / data::kFashionStd));
  fs::remove_all(d);
}

TEST_CASE("fortunes corpus: split sizes, vocabulary and encoding") {
  const auto c = data::load_fortunes();
  // Independently computed with /usr/bin/python3 applying the same rule (split files at "%" lines,
  // drop blank fortunes, every 10th fortune -- k % 10 == 9 -- to validation, "%\n" after each):
  // 14396 fortunes, 2228870 / 249407 characters, 98 tokens (97 characters + unknown).
  CHECK(c.train_fortunes == 12957);
  CHECK(c.valid_fortunes == 1439);
  CHECK(c.train_text.size() == 2228870);
  CHECK(c.valid_text.size() == 249407);
  CHECK(c.vocab.size() == 98);
  CHECK(sha256_hex(c.train_text) == "24a9efdbce5c564b73f7ccb59397bbaa3efc8a936be8003373489d9f7be2e7d4");
  CHECK(sha256_hex(c.valid_text) == "42ffd9fc3988414d19997d76ecf1130a5991a117b90d02f38b5ba88f75bf6b84");
  CHECK(c.train_tokens.numel() == int64_t(c.train_text.size()));
  CHECK((c.valid_tokens.scalar_type() == at::kLong));
  // 23 validation bytes fall outside the vocabulary (UTF-8 and overstrikes): token 0.
  CHECK(c.valid_tokens.eq(0).sum().item<int64_t>() == 23);
  CHECK(c.train_tokens.min().item<int64_t>() >= 0);
  CHECK(c.train_tokens.max().item<int64_t>() == c.vocab.size() - 1);
  // Deterministic: a second load gives the same tokens.
  CHECK(data::load_fortunes().valid_tokens.equal(c.valid_tokens));
  // Round trip of in-vocabulary text; other bytes become unknown.
  CHECK(c.vocab.decode(c.vocab.encode("Hello,\tworld!\n")) == "Hello,\tworld!\n");
  CHECK(c.vocab.encode('\x01') == 0);
  CHECK(c.vocab.decode(c.vocab.encode("a\x01z")) == "a?z");
  CHECK(c.vocab.chars.front() == '\t');
  CHECK(c.vocab.chars.back() == '~');
}

TEST_CASE("fortunes corpus: a missing file names the package") {
  const fs::path d = temp_dir("fortunes");
  const std::string e = error_of([&] { data::load_fortunes(d.string()); });
  CHECK(e.find((d / "art").string()) != std::string::npos);
  CHECK(e.find("apt-get install fortunes") != std::string::npos);
  fs::remove_all(d);
}
