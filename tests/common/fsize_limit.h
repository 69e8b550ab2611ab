// A full disk for one call, unprivileged and deterministic: a forked child with RLIMIT_FSIZE set
// and SIGXFSZ ignored, so a write past the limit fails with EFBIG ("File too large") like a write
// to a full file system fails with ENOSPC.
#pragma once
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace xbar::test {

// Runs f in a child limited to files of `bytes`; returns the child's exit status (f's return
// value, 99 if it threw something unexpected), or -signal when it died by a signal.
inline int with_file_size_limit(size_t bytes, const std::function<int()>& f) {
  const pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit r{rlim_t(bytes), rlim_t(bytes)};
    setrlimit(RLIMIT_FSIZE, &r);
    int code = 99;
    try {
      code = f();
    } catch (...) {
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace xbar::test
