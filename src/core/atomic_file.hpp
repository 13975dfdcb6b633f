// Crash-safe outputs: write under a temporary name in the final directory, fsync, then rename.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace climseg {

// Reserves a temporary path beside `final_path`. Writers write there; commit() flushes it to disk
// and renames it over the final name, so readers see either the old file, nothing, or the whole new
// file. If the object dies uncommitted (exception, early return) the temporary file is removed;
// on SIGINT/SIGTERM/SIGHUP it is removed too (see install_cleanup_handlers).
class AtomicOutput {
 public:
  explicit AtomicOutput(std::filesystem::path final_path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& final_path() const { return final_; }
  void commit();
  void discard();

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  int slot_ = -1;  // registration for signal-time cleanup
  bool done_ = false;
};

// Writes bytes to a file atomically.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);
// Reads a whole file, or throws Error naming it.
std::string read_file(const std::filesystem::path& path);
// Flushes a file's data to stable storage (fsync), throwing Error on failure.
void fsync_path(const std::filesystem::path& path);

// On a terminating signal, remove pending temporary files, then die with the signal.
void install_cleanup_handlers();

}  // namespace climseg
