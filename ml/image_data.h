// Image-classification data sets in IDX format (the MNIST layout: train / t10k images and labels,
// gzip-compressed or not), by default Fashion-MNIST from Debian's dataset-fashion-mnist package.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/enum_names.h"

namespace xbar::data {

// Per-pixel normalisation applied by the loader: x = (byte / 255 - mean) / std.
struct Normalisation {
  float mean = 0.f;
  float std = 1.f;
};

// Fashion-MNIST's: the pixel mean and std of its 60,000 training images to 4 decimals, i.e. what
// normalisation_of computes for it (tests/ml/test_data.cpp checks that). The models shipped in
// data/models were trained with these values and record none of their own.
constexpr Normalisation kFashionMnistNorm{0.2860f, 0.3530f};

struct ImageSet {
  at::Tensor images;  // [N, 1, H, W] float32, normalised
  at::Tensor labels;  // [N] int64
};

// $XBAR_FASHION_MNIST if set, else /usr/share/datasets/fashion-mnist.
std::string default_image_dir();

// Which images: a directory of IDX files, and the normalisation to apply (none: the data set's own,
// normalisation_of(dir); a model trained elsewhere carries its own, see model_normalisation).
struct ImageData {
  std::string dir = default_image_dir();
  std::optional<Normalisation> norm;
  // The data set's name in messages and results: the directory's last component ("fashion-mnist").
  std::string name() const;
};

// The two files of a split.
enum class IdxKind { images, labels };

// The file of a split ("train" or "test") and kind: the first that exists of
// <prefix>-<kind>-idx<D>-ubyte[.gz] and <prefix>-<kind>.idx<D>-ubyte[.gz] with prefix train or t10k
// (D = 3 for images, 1 for labels). FileError listing the names tried when none does.
std::string idx_file(const std::string& dir, const std::string& split, IdxKind kind);

// The mean and std of all training pixels (in byte / 255 units), rounded to 4 decimals so that the
// value recorded in a model reads back the same.
Normalisation normalisation_of(const std::string& dir);

// split: "train" or "test". Throws FileError naming the file when it is missing, truncated, has a
// bad idx header, or images and labels disagree in count.
ImageSet load_images(const ImageData& d, const std::string& split);

// The decompressed bytes of a gzip file, or the bytes of a plain file (throws FileError naming it).
std::vector<uint8_t> read_gzip(const std::string& path);

}  // namespace xbar::data

namespace xbar {
template <>
struct EnumNames<data::IdxKind> {
  static constexpr EnumName<data::IdxKind> table[] = {{data::IdxKind::images, "images"}, {data::IdxKind::labels, "labels"}};
};
}  // namespace xbar
