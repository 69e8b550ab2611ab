// Typed errors: every message names the field, file or dataset and the offending value.
#pragma once
#include <stdexcept>
#include <string>

namespace xbar {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An invalid configuration value (field is "section.key").
class ConfigError : public Error {
 public:
  ConfigError(const std::string& field, const std::string& value, const std::string& why)
      : Error("config " + field + " = " + value + ": " + why), field_(field), value_(value), why_(why) {}
  const std::string& field() const { return field_; }
  // The same error, saying where the value came from (a file, a rule, a study point).
  ConfigError in(const std::string& source) const {
    return source.empty() ? *this : ConfigError(field_, value_, why_ + " (in " + source + ")");
  }

 private:
  std::string field_, value_, why_;
};

// Bad numeric input to a computation (shape mismatch, NaN/Inf).
class InputError : public Error {
 public:
  using Error::Error;
};

// A missing, unreadable or malformed file (message names the file and dataset).
class FileError : public Error {
 public:
  using Error::Error;
};

}  // namespace xbar
