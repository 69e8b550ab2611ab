#include "apps/tune_log.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"

namespace xbar {

namespace {

const char* kHeader = "split,chip,metrics,costs,candidate";

// %.17g: a logged double reads back to the same bits, so a resumed search decides as the first.
std::string exact(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::string joined(const std::vector<double>& v) {
  std::string t;
  for (size_t i = 0; i < v.size(); ++i) t += (i ? " " : "") + exact(v[i]);
  return t;
}

bool numbers(const std::string& text, std::vector<double>& v) {
  std::istringstream s(text);
  v.clear();
  for (double x; s >> x;) v.push_back(x);
  return s.eof();
}

std::string line(const std::string& split, const std::string& candidate, int chip, const TuneLogEntry& e) {
  return split + "," + std::to_string(chip) + "," + joined(e.metrics) + "," + joined(e.costs) + "," + candidate + "\n";
}

// Fields split at the first four commas (the candidate, last, has none but is kept whole).
bool parse(const std::string& l, std::string& split, int& chip, std::string& candidate, TuneLogEntry& e) {
  std::vector<std::string> f;
  size_t a = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t b = l.find(',', a);
    if (b == std::string::npos) return false;
    f.push_back(l.substr(a, b - a));
    a = b + 1;
  }
  f.push_back(l.substr(a));
  try {
    size_t used = 0;
    split = f[0];
    chip = std::stoi(f[1], &used);
    if (used != f[1].size()) return false;
    if (!numbers(f[2], e.metrics) || e.metrics.empty() || !numbers(f[3], e.costs)) return false;
  } catch (const std::logic_error&) {
    return false;
  }
  candidate = f[4];
  return !candidate.empty() && (split == "val" || split == "test");
}

}  // namespace

TuneLog::TuneLog(std::string path, const std::string& fingerprint) : path_(std::move(path)) {
  const std::string first = "# xbar tune log " + fingerprint;
  std::string kept = first + "\n" + kHeader + "\n";
  if (std::filesystem::exists(path_)) {
    std::ifstream f(path_);
    std::string l;
    std::getline(f, l);
    if (l != first)
      throw FileError(path_ + ": a candidate log of another setup (model, policy, hardware, data, knobs or samples "
                      "differ); choose another --out or remove the file");
    std::getline(f, l);  // column header
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::istringstream ls(text);
    while (std::getline(ls, l)) {
      if (ls.eof() && !text.empty() && text.back() != '\n') break;  // cut by a kill mid-line
      std::string split, candidate;
      int chip = 0;
      TuneLogEntry e;
      if (!parse(l, split, chip, candidate, e)) throw FileError(path_ + ": malformed line: " + l);
      rows_[{split, candidate, chip}] = e;
      kept += l + "\n";
    }
  }
  write_file_atomic(path_, kept);  // without a partial last line; appended from here on
}

const TuneLogEntry* TuneLog::find(const std::string& split, const std::string& candidate, int chip) const {
  const auto it = rows_.find({split, candidate, chip});
  return it == rows_.end() ? nullptr : &it->second;
}

void TuneLog::add(const std::string& split, const std::string& candidate, int chip, const TuneLogEntry& e) {
  append_file_durable(path_, line(split, candidate, chip, e));
  rows_[{split, candidate, chip}] = e;
}

}  // namespace xbar
