// Atomic outputs, durable appends, output/input aliasing, regular-file inputs, the output lock and
// HDF5 writes: the old file survives every failure, byte for byte, and no temporary is left.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/file_lock.h"
#include "common/h5io.h"
#include "tests/common/fsize_limit.h"

using namespace xbar;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("xbar_atomic_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Directory entries other than the given names (left-over temporaries).
int entries(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().empty() ? 0 : 1;
  return n;
}

// Exit codes of the children: 0 = FileError with "File too large", 1 = no error, 2 = other text.
int expect_efbig(const std::function<void()>& write) {
  try {
    write();
  } catch (const FileError& e) {
    return std::string(e.what()).find("File too large") != std::string::npos ? 0 : 2;
  }
  return 1;
}

void write_h5(const std::string& path, size_t n) {
  h5::Writer w(path);
  w.write("x", std::vector<double>(n, 1.5), {n});
  w.group("/g");
  w.attr("/g", "name", std::string("value"));
  w.close();
}

}  // namespace

TEST_CASE("atomic file: replaces the content; a full disk keeps the old file and leaves no temporary") {
  const std::string d = fresh_dir("replace"), p = d + "/out.txt";
  write_file_atomic(p, "old content\n");
  CHECK(slurp(p) == "old content\n");
  // 1 MiB does not fit under a 64 KiB file-size limit.
  const int code = test::with_file_size_limit(65536, [&] {
    return expect_efbig([&] { write_file_atomic(p, std::string(1 << 20, 'x')); });
  });
  CHECK(code == 0);
  CHECK(slurp(p) == "old content\n");
  CHECK(entries(d) == 1);
  write_file_atomic(p, "new\n");
  CHECK(slurp(p) == "new\n");
  CHECK(entries(d) == 1);
}

TEST_CASE("atomic file: a missing directory is named with the system's reason") {
  CHECK_THROWS_WITH_AS(write_file_atomic("/nonexistent_dir_xbar/out.txt", "x"),
                       doctest::Contains("directory /nonexistent_dir_xbar: No such file or directory"), FileError);
}

TEST_CASE("durable append: a failed append truncates back, the file stays byte-identical") {
  const std::string d = fresh_dir("append"), p = d + "/log.csv";
  append_file_durable(p, "a,1\n");
  append_file_durable(p, "b,2\n");
  CHECK(slurp(p) == "a,1\nb,2\n");
  const int code = test::with_file_size_limit(4096, [&] {
    return expect_efbig([&] { append_file_durable(p, std::string(10000, 'y')); });
  });
  CHECK(code == 0);
  CHECK(slurp(p) == "a,1\nb,2\n");
}

TEST_CASE("outputs never alias inputs; inputs are regular readable files") {
  const std::string d = fresh_dir("alias"), in = d + "/in.h5";
  write_file_atomic(in, "data");
  CHECK_THROWS_WITH_AS(refuse_alias(in, "--in", in, "--out"),
                       doctest::Contains(("--out " + in + " is the same file as --in " + in).c_str()), FileError);
  fs::create_hard_link(in, d + "/hard.h5");
  fs::create_symlink(in, d + "/soft.h5");
  CHECK_THROWS_AS(refuse_alias(in, "--in", d + "/hard.h5", "--out"), FileError);
  CHECK_THROWS_AS(refuse_alias(in, "--in", d + "/./soft.h5", "--out"), FileError);
  CHECK_NOTHROW(refuse_alias(in, "--in", d + "/other.h5", "--out"));  // not there yet
  write_file_atomic(d + "/other.h5", "x");
  CHECK_NOTHROW(refuse_alias(in, "--in", d + "/other.h5", "--out"));
  CHECK(slurp(in) == "data");

  CHECK_NOTHROW(require_regular_file(in, "--config"));
  CHECK_THROWS_WITH_AS(require_regular_file(d, "--config"), doctest::Contains("is a directory"), FileError);
  CHECK_THROWS_WITH_AS(require_regular_file("/dev/zero", "--config"), doctest::Contains("not a regular file"), FileError);
  CHECK_THROWS_WITH_AS(require_regular_file(d + "/absent.toml", "--policy"),
                       doctest::Contains("No such file or directory"), FileError);
}

TEST_CASE("file lock: a second holder is refused with the first one's PID; released on destruction") {
  const std::string d = fresh_dir("lock"), out = d + "/study";
  {
    FileLock first(out, "study output");
    CHECK(fs::exists(out + ".lock"));
    // flock conflicts between two open file descriptions, also within one process.
    CHECK_THROWS_WITH_AS(FileLock(out, "study output"),
                         doctest::Contains(("study output " + out + " is in use by PID " + std::to_string(::getpid())).c_str()),
                         FileError);
  }
  CHECK_FALSE(fs::exists(out + ".lock"));
  CHECK_NOTHROW(FileLock(out, "study output"));
}

TEST_CASE("h5io writer: atomic, reasons in errors, byte-identical reruns") {
  const std::string d = fresh_dir("h5"), p = d + "/r.h5";
  write_h5(p, 10);
  const std::string old = slurp(p);
  // Same content, same bytes: no object timestamps.
  sleep(1);
  write_h5(d + "/again.h5", 10);
  CHECK(slurp(d + "/again.h5") == old);
  // A full disk while writing: FileError with the reason; the old file is intact.
  const int code = test::with_file_size_limit(65536, [&] { return expect_efbig([&] { write_h5(p, 100000); }); });
  CHECK(code == 0);
  CHECK(slurp(p) == old);
  CHECK(entries(d) == 2);
  // A Writer abandoned without close() (an error while writing) publishes nothing.
  {
    h5::Writer w(p);
    w.write("y", std::vector<double>{1}, {1});
  }
  CHECK(slurp(p) == old);
  CHECK(entries(d) == 2);
  // A check before publishing can refuse the complete file.
  {
    h5::Writer w(p);
    w.write("y", std::vector<double>{1}, {1});
    CHECK_THROWS_AS(w.close([](const std::string&) { throw FileError("refused"); }), FileError);
  }
  CHECK(slurp(p) == old);
  CHECK(entries(d) == 2);
  CHECK_THROWS_WITH_AS(h5::Writer(d + "/missing/x.h5"), doctest::Contains("No such file or directory"), FileError);
}
