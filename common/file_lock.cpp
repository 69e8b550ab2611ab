#include "common/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/atomic_file.h"
#include "common/error.h"

namespace xbar {

FileLock::FileLock(const std::string& path, const std::string& what) : lock_path_(path + ".lock") {
  // A holder removes the lock file on release: lock, then check that the locked file is still
  // the one at lock_path_, else retry on the new one.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) throw FileError(lock_path_ + ": cannot create the lock file: " + errno_text(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      char buf[32] = {0};
      const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      ::close(fd);
      if (e != EWOULDBLOCK) throw FileError(lock_path_ + ": cannot lock: " + errno_text(e));
      const std::string pid = n > 0 ? std::string(buf, size_t(n)) : "?";
      throw FileError(what + " " + path + " is in use by PID " + pid.substr(0, pid.find('\n')) +
                      " (lock file " + lock_path_ + ")");
    }
    struct stat a, b;
    if (::fstat(fd, &a) == 0 && ::stat(lock_path_.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
        // The lock holds without the PID; a second process then reports PID "?".
      }
      fd_ = fd;
      return;
    }
    ::close(fd);  // released and removed meanwhile: lock the new file
  }
  throw FileError(lock_path_ + ": cannot lock (the lock file keeps changing)");
}

FileLock::~FileLock() {
  if (fd_ < 0) return;
  ::unlink(lock_path_.c_str());  // while holding the lock: waiters re-check the inode
  ::close(fd_);
}

}  // namespace xbar
