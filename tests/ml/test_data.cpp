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
#include "ml/evaluate.h"
#include "ml/image_data.h"
#include "ml/text_corpus.h"
#include "tests/ml/idx_test_data.h"

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
  const auto train = data::load_images({}, "train");
  const auto test = data::load_images({}, "test");
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
    return (x * data::kFashionMnistNorm.std + data::kFashionMnistNorm.mean).mul(255).round().to(at::kLong).sum().item<int64_t>();
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
    const auto b = data::read_gzip(data::default_image_dir() + "/" + file);
    CHECK_MESSAGE(sha256_hex(std::string(b.begin(), b.end())) == sha, file);
  }
}

TEST_CASE("Fashion-MNIST: missing, truncated and malformed files are errors naming the file") {
  const fs::path d = temp_dir("fmnist");
  std::string e = error_of([&] { data::load_images({d.string(), data::kFashionMnistNorm}, "test"); });
  CHECK(e.find((d / "t10k-images-idx3-ubyte.gz").string()) != std::string::npos);
  CHECK(e.find("t10k-images.idx3-ubyte") != std::string::npos);  // the names tried are listed

  // Truncated gzip stream: the first half of the real labels file.
  std::ifstream in(data::default_image_dir() + "/t10k-labels-idx1-ubyte.gz", std::ios::binary);
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
  e = error_of([&] { data::load_images({d.string(), data::kFashionMnistNorm}, "test"); });
  CHECK(e.find("t10k-images-idx3-ubyte.gz") != std::string::npos);
  CHECK(e.find("bad idx magic 0x00000801") != std::string::npos);
  images[3] = 3;
  images.resize(16 + 784);
  write_gz(d / "t10k-images-idx3-ubyte.gz", images);
  e = error_of([&] { data::load_images({d.string(), data::kFashionMnistNorm}, "test"); });
  CHECK(e.find("t10k-images-idx3-ubyte.gz: idx payload has 784 bytes, header says 1568") != std::string::npos);
  // A well-formed pair loads: 2 black images normalise to -mean/std.
  images.resize(16 + 2 * 784);
  write_gz(d / "t10k-images-idx3-ubyte.gz", images);
  const auto tiny = data::load_images({d.string(), data::kFashionMnistNorm}, "test");
  CHECK(tiny.labels.equal(at::tensor({3, 4}, at::kLong)));
  CHECK(tiny.images[1][0][5][5].item<float>() == doctest::Approx(-data::kFashionMnistNorm.mean / data::kFashionMnistNorm.std));
  fs::remove_all(d);
}

TEST_CASE("Fashion-MNIST: its recorded normalisation is what normalisation_of computes") {
  // Exact equality (float bits): the shipped models, which record no normalisation, are evaluated
  // with normalisation_of's values; independently, the byte sum above gives the mean
  // 3431114169 / (60000 * 784) / 255 = 0.28604.
  const data::Normalisation n = data::normalisation_of(data::default_image_dir());
  CHECK(n.mean == data::kFashionMnistNorm.mean);
  CHECK(n.std == data::kFashionMnistNorm.std);
  CHECK(std::abs(3431114169.0 / (60000.0 * 784.0) / 255.0 - double(n.mean)) < 5e-5);
}

TEST_CASE("IDX data in another directory: both file-name spellings, own normalisation, errors naming the file") {
  const fs::path d = temp_dir("idx");
  const test::IdxBytes train = test::write_idx_set(d, 200, 50);
  // Normalisation: the mean and std of the training bytes / 255, computed here from the bytes
  // (population std), to the 4 decimals normalisation_of keeps.
  double s1 = 0, s2 = 0;
  for (size_t i = 16; i < train.images.size(); ++i) s1 += train.images[i] / 255.0, s2 += std::pow(train.images[i] / 255.0, 2);
  const double cnt = double(train.images.size() - 16), mean = s1 / cnt, sd = std::sqrt(s2 / cnt - mean * mean);
  const data::Normalisation n = data::normalisation_of(d.string());
  CHECK(std::abs(n.mean - mean) <= 5e-5 + 1e-7);
  CHECK(std::abs(n.std - sd) <= 5e-5 + 1e-7);
  const data::ImageData img{d.string(), std::nullopt};
  CHECK(img.name() == d.filename().string());
  const data::ImageSet tr = data::load_images(img, "train"), te = data::load_images(img, "test");
  CHECK(tr.images.sizes() == at::IntArrayRef({200, 1, 28, 28}));
  CHECK(te.labels.numel() == 50);
  CHECK(tr.labels[13].item<int64_t>() == 3);
  // A pixel reads back as (byte / 255 - mean) / std (float32 arithmetic: 1e-6).
  const double byte = train.images[16 + 13 * 784 + 9 * 28 + 5];  // image 13 (class 3), row 9 = its bar
  CHECK(tr.images[13][0][9][5].item<float>() == doctest::Approx((byte / 255 - n.mean) / n.std).epsilon(1e-6));
  CHECK(tr.images.mean().item<double>() == doctest::Approx(0).scale(1).epsilon(2e-4));

  // The dotted spelling (train-images.idx3-ubyte) is found as well.
  fs::rename(d / "train-labels-idx1-ubyte", d / "train-labels.idx1-ubyte");
  CHECK(data::idx_file(d.string(), "train", data::IdxKind::labels) == (d / "train-labels.idx1-ubyte").string());
  CHECK(data::load_images(img, "train").labels.equal(tr.labels));

  // Count mismatch: both files named with their counts.
  test::write_bytes(d / "t10k-labels-idx1-ubyte.gz", test::make_idx_bytes(40, 2).labels, true);
  std::string e = error_of([&] { data::load_images(img, "test"); });
  CHECK(e.find("t10k-images-idx3-ubyte.gz has 50 images but") != std::string::npos);
  CHECK(e.find("t10k-labels-idx1-ubyte.gz has 40 labels") != std::string::npos);
  // Wrong magic (a labels file where images belong).
  test::write_bytes(d / "t10k-images-idx3-ubyte.gz", test::make_idx_bytes(40, 2).labels, true);
  e = error_of([&] { data::load_images(img, "test"); });
  CHECK(e.find("t10k-images-idx3-ubyte.gz: bad idx magic 0x00000801 (expected 0x00000803)") != std::string::npos);
  // Missing file: the names tried, and no Fashion-MNIST install hint for a user's directory.
  fs::remove(d / "t10k-labels-idx1-ubyte.gz");
  e = error_of([&] { data::load_images(img, "test"); });
  CHECK(e.find((d / "t10k-labels-idx1-ubyte.gz").string() + ": file not found (tried") != std::string::npos);
  CHECK(e.find("apt-get") == std::string::npos);
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

TEST_CASE("a training set too small to hold out a validation part is refused, naming the directory") {
  const fs::path d = temp_dir("tiny");
  test::write_idx_set(d, 9, 5);
  const data::ImageData img{d.string(), std::nullopt};
  const std::string e = error_of([&] { load_validation_data(Task::fashion_mnist, 0, 0, {}, img); });
  CHECK(e.find(d.string() + ": 9 training images, too few to hold out a validation part") != std::string::npos);
  test::write_idx_set(d, 10, 5);  // 10 images: one is held out
  CHECK(load_validation_data(Task::fashion_mnist, 0, 0, {}, img).images.labels.numel() == 1);
  fs::remove_all(d);
}
