// The precision tuner's candidate log (DIR/log.csv): one line per evaluated candidate and chip,
// appended and flushed as it is measured, so a killed search restarts without re-measuring. The
// first line holds a fingerprint of everything a measurement depends on (model bytes, base policy,
// hardware, task, data, knobs, sample counts, calibration); a log from another setup is refused.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace xbar {

struct TuneLogEntry {
  std::vector<double> metrics;  // the task metric, then (a model with phases) the decode phase's
  std::vector<double> costs;  // per tuned layer 4 numbers (energy, latency, ADC, converter), then the model's 4
};

class TuneLog {
 public:
  // Reads path when it exists (FileError for another fingerprint; a partial last line, left by a
  // kill, is dropped), else starts it.
  TuneLog(std::string path, const std::string& fingerprint);
  // split: "val" or "test".
  const TuneLogEntry* find(const std::string& split, const std::string& candidate, int chip) const;
  void add(const std::string& split, const std::string& candidate, int chip, const TuneLogEntry& e);
  size_t size() const { return rows_.size(); }

 private:
  std::string path_;
  std::map<std::tuple<std::string, std::string, int>, TuneLogEntry> rows_;
};

}  // namespace xbar
