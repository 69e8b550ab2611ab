// SHA-256 (FIPS 180-4) of files and byte strings, for the provenance of device files.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace xbar {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::string hex_digest();  // finalises; 64 lowercase hex digits

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(const std::string& bytes);
// Hash of a file's contents; throws FileError if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace xbar
