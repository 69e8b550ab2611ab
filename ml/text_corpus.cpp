#include "ml/text_corpus.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace xbar::data {

namespace {

bool in_alphabet(unsigned char c) { return c == '\t' || c == '\n' || (c >= 32 && c <= 126); }

// Fortunes of one file: the texts between lines that hold only "%" (blank texts dropped).
std::vector<std::string> split_fortunes(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line, cur;
  auto flush = [&] {
    if (cur.find_first_not_of(" \t\n") != std::string::npos) out.push_back(cur);
    cur.clear();
  };
  while (std::getline(in, line)) {
    if (line == "%") flush();
    else cur += line + "\n";
  }
  flush();
  return out;
}

}  // namespace

int64_t Vocab::encode(char c) const {
  const auto it = std::lower_bound(chars.begin(), chars.end(), c);
  return it != chars.end() && *it == c ? int64_t(it - chars.begin()) + 1 : 0;
}

at::Tensor Vocab::encode(const std::string& text) const {
  std::array<int64_t, 256> table{};
  for (size_t i = 0; i < chars.size(); ++i) table[(unsigned char)chars[i]] = int64_t(i) + 1;
  at::Tensor t = at::empty({int64_t(text.size())}, at::kLong);
  int64_t* p = t.data_ptr<int64_t>();
  for (size_t i = 0; i < text.size(); ++i) p[i] = table[(unsigned char)text[i]];
  return t;
}

std::string Vocab::decode(const at::Tensor& tokens) const {
  const at::Tensor t = tokens.reshape({-1}).to(at::kLong).contiguous();
  std::string s;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t k = t.data_ptr<int64_t>()[i];
    s += k >= 1 && k <= int64_t(chars.size()) ? chars[size_t(k - 1)] : '?';
  }
  return s;
}

Vocab Vocab::from_text(const std::string& text) {
  std::array<bool, 256> seen{};
  for (unsigned char c : text) seen[c] = true;
  Vocab v;
  for (int c = 0; c < 256; ++c)
    if (seen[size_t(c)] && in_alphabet((unsigned char)c)) v.chars += char(c);
  return v;
}

const std::vector<std::string>& fortune_files() {
  static const std::vector<std::string> f = {
      "art",      "ascii-art",    "computers", "cookie",    "debian",        "definitions", "disclaimer",
      "drugs",    "education",    "ethnic",    "food",      "goedel",        "humorists",   "kids",
      "knghtbrd", "law",          "linux",     "linuxcookie", "love",        "magic",       "medicine",
      "men-women", "miscellaneous", "news",    "paradoxum", "people",        "perl",        "pets",
      "platitudes", "politics",   "pratchett", "science",   "songs-poems",   "sports",      "startrek",
      "tao",      "translate-me", "wisdom",    "work",      "zippy"};
  return f;
}

std::string fortunes_dir() {
  const char* env = std::getenv("XBAR_FORTUNES");
  return env && *env ? env : "/usr/share/games/fortunes";
}

TextCorpus load_fortunes(const std::string& dir) {
  TextCorpus c;
  int64_t k = 0;
  for (const auto& name : fortune_files()) {
    const std::string path = dir + "/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw FileError(path + ": cannot open fortune file (the text corpus comes with Debian's fortunes package: "
                             "apt-get install fortunes; tools/setup.sh does this)");
    std::stringstream ss;
    ss << in.rdbuf();
    for (const auto& f : split_fortunes(ss.str())) {
      const bool valid = k++ % 10 == 9;
      (valid ? c.valid_text : c.train_text) += f + "%\n";
      ++(valid ? c.valid_fortunes : c.train_fortunes);
    }
  }
  c.vocab = Vocab::from_text(c.train_text);
  c.train_tokens = c.vocab.encode(c.train_text);
  c.valid_tokens = c.vocab.encode(c.valid_text);
  return c;
}

}  // namespace xbar::data
