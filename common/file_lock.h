// An exclusive lock held by one process on a file (flock on PATH.lock, which records the holder's
// PID): a second process that asks for it fails at once, naming the PID, instead of writing the
// same files concurrently. Released (and the lock file removed) by the destructor or when the
// process dies.
#pragma once
#include <string>

namespace xbar {

class FileLock {
 public:
  // Locks `path + ".lock"`; throws FileError "<what> <path> is in use by PID N" when another
  // process holds it.
  FileLock(const std::string& path, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  std::string lock_path_;
  int fd_ = -1;
};

}  // namespace xbar
