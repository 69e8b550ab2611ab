#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/error.h"

namespace xbar {

namespace fs = std::filesystem;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

namespace {

std::string dir_of(const std::string& path) {
  const fs::path d = fs::path(path).parent_path();
  return d.empty() ? "." : d.string();
}

// Writes all of bytes to fd; false with errno set on failure.
bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= size_t(w);
  }
  return true;
}

// The mode a newly created file would get (0666 minus the umask), or the existing file's.
mode_t output_mode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return st.st_mode & 07777;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  if (fs::is_directory(path_, ec)) throw FileError(path_ + ": is a directory, expected a file name");
  const std::string dir = dir_of(path_);
  std::string tmpl = (fs::path(dir) / ("." + fs::path(path_).filename().string() + ".tmp-XXXXXX")).string();
  fd_ = ::mkstemp(tmpl.data());
  if (fd_ < 0)
    throw FileError(path_ + ": cannot create a temporary file in directory " + dir + ": " + errno_text(errno));
  temp_ = tmpl;
  ::fchmod(fd_, output_mode(path_));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const std::string& bytes) {
  if (!write_all(fd_, bytes.data(), bytes.size())) throw FileError(path_ + ": cannot write: " + errno_text(errno));
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw FileError(path_ + ": cannot write (fsync): " + errno_text(errno));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw FileError(path_ + ": cannot write (close): " + errno_text(errno));
  if (::rename(temp_.c_str(), path_.c_str()) != 0)
    throw FileError(path_ + ": cannot replace with " + temp_ + ": " + errno_text(errno));
  committed_ = true;
  // The rename itself survives a crash once the directory is on disk; best effort.
  const int d = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (d >= 0) {
    ::fsync(d);
    ::close(d);
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

uint64_t append_file_durable(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) throw FileError(path + ": cannot open for appending: " + errno_text(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw FileError(path + ": cannot append: " + errno_text(e));
  }
  if (!write_all(fd, bytes.data(), bytes.size()) || ::fsync(fd) != 0) {
    const int e = errno;
    if (::ftruncate(fd, st.st_size) != 0) { /* the first error is the one reported */ }
    ::close(fd);
    throw FileError(path + ": cannot append: " + errno_text(e));
  }
  if (::close(fd) != 0) {
    const int e = errno;
    if (::truncate(path.c_str(), st.st_size) != 0) { /* as above */ }
    throw FileError(path + ": cannot append (close): " + errno_text(e));
  }
  return uint64_t(st.st_size);
}

void truncate_file(const std::string& path, uint64_t size) {
  if (::truncate(path.c_str(), off_t(size)) != 0) throw FileError(path + ": cannot truncate: " + errno_text(errno));
}

void refuse_alias(const std::string& input, const std::string& input_option, const std::string& output,
                  const std::string& output_option) {
  std::error_code ec;
  if (!fs::exists(output, ec) || !fs::exists(input, ec)) return;
  if (fs::equivalent(input, output, ec))
    throw FileError(output_option + " " + output + " is the same file as " + input_option + " " + input +
                    ": refusing to overwrite an input");
}

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw FileError(what + " " + path + ": " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) throw FileError(what + " " + path + ": is a directory, expected a file");
  if (!S_ISREG(st.st_mode)) throw FileError(what + " " + path + ": is not a regular file (device, FIFO or socket)");
  if (::access(path.c_str(), R_OK) != 0) throw FileError(what + " " + path + ": cannot be read: " + errno_text(errno));
}

}  // namespace xbar
