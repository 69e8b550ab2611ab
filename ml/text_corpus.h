// Character-level English corpus from Debian's fortunes package (the plain-text fortune files in
// /usr/share/games/fortunes, not the .dat indexes), for the tiny GPT.
//
// Split rule (fixed): the package's 40 files are read in alphabetical order and their fortunes
// (texts between lines holding only "%", blank ones dropped) numbered k = 0, 1, ... across files;
// fortune k goes to validation when k % 10 == 9, else to training. Each split's text is its
// fortunes in that order, each followed by the line "%\n" so the model sees where one ends.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xbar::data {

// Token 0 is "unknown"; token i >= 1 is chars[i - 1]. chars is the sorted set of the characters
// of the training text that are printable ASCII, tab or newline (other bytes -- UTF-8 sequences,
// backspace overstrikes, bells -- map to unknown).
struct Vocab {
  std::string chars;

  int64_t size() const { return int64_t(chars.size()) + 1; }
  int64_t encode(char c) const;
  at::Tensor encode(const std::string& text) const;  // [len] int64
  std::string decode(const at::Tensor& tokens) const;  // unknown -> '?'
  static Vocab from_text(const std::string& text);
};

struct TextCorpus {
  std::string train_text, valid_text;
  int64_t train_fortunes = 0, valid_fortunes = 0;
  Vocab vocab;
  at::Tensor train_tokens, valid_tokens;  // [len] int64
};

// The fortune files of Debian's fortunes package (file names, alphabetical).
const std::vector<std::string>& fortune_files();

// $XBAR_FORTUNES if set, else /usr/share/games/fortunes.
std::string fortunes_dir();

// Throws FileError naming the file and the package (apt-get install fortunes) if one is missing.
TextCorpus load_fortunes(const std::string& dir = fortunes_dir());

}  // namespace xbar::data
