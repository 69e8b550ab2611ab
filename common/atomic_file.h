// Output files that are either their old content or complete new content, never a mixture: the
// new content goes to a temporary file in the destination directory, is flushed, fsync'ed and
// closed with every error checked, then renamed over the destination. On any failure (disk full,
// missing or read-only directory, an exception while writing) the temporary is removed and the
// old file stays as it was. Errors are FileErrors with the operating system's reason.
#pragma once
#include <cstdint>
#include <string>

namespace xbar {

// "No space left on device" for errno 28.
std::string errno_text(int err);

class AtomicFile {
 public:
  // Creates the temporary (throws FileError naming the directory and the reason if it cannot).
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the temporary unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }  // write here (any library, any API)
  // Writes bytes to the temporary (appending to what it holds).
  void write(const std::string& bytes);
  // fsync + close the temporary, rename it over path(), fsync the directory.
  void commit();

 private:
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Replaces path with `bytes` atomically.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Appends `bytes` to path (created if missing) and fsyncs; on failure truncates the file back to
// its previous size, so a full disk leaves it byte-identical. Returns that previous size (for
// truncate_file when a later step fails).
uint64_t append_file_durable(const std::string& path, const std::string& bytes);
void truncate_file(const std::string& path, uint64_t size);

// Refuses an output that names an existing input file (the same file through any path, link or
// hard link): FileError naming both options and paths.
void refuse_alias(const std::string& input, const std::string& input_option, const std::string& output,
                  const std::string& output_option);

// Throws FileError unless path names a readable regular file (not a directory, device or FIFO);
// `what` names the option or key ("--config").
void require_regular_file(const std::string& path, const std::string& what);

}  // namespace xbar
