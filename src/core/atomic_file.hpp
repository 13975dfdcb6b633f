// Crash-safe outputs: write under a temporary name in the final directory, fsync, then rename.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// Outputs that appear together or not at all: each is written at the temporary path add() gives
// (a writer may make its own temporary beside it and rename it there), and commit() renames them
// all into place; destroyed uncommitted (an error, an early return) it removes them. A command's
// tables and summaries go through one, so a command that fails leaves none of them behind.
class OutputGroup {
 public:
  OutputGroup() = default;
  ~OutputGroup();
  OutputGroup(const OutputGroup&) = delete;
  OutputGroup& operator=(const OutputGroup&) = delete;

  // Where to write the file that appears as `final_path` at commit().
  const std::filesystem::path& add(const std::filesystem::path& final_path);
  // A hidden folder beside `into` whose files appear in `into` at commit() (pictures whose names
  // their writer chooses).
  std::filesystem::path add_folder(const std::filesystem::path& into);
  // Renames every file into place. A file that was never written is an error.
  void commit();

 private:
  std::vector<std::unique_ptr<AtomicOutput>> files_;
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> folders_;  // (staging, into)
  bool done_ = false;
};

// The final name of a path that AtomicOutput or OutputGroup made temporary (".NAME.tmp.PID.RANDOM"
// -> NAME in the same folder), for messages; any other path as it is.
std::filesystem::path final_name(const std::filesystem::path& path);

// The nearest of `folder` and its parents that exists and is not a directory (a file where a folder
// must be made), or an empty path.
std::filesystem::path file_in_the_way(const std::filesystem::path& folder);

// Makes the output folder named by `option` (and its parents). A path that is a file, or that
// cannot be made, is an Error (exit 1) naming the option (and the parent that is a file).
void make_output_folder(const std::filesystem::path& folder, const char* option = "--out");
// The same check without making the folder (an Error when it is a file).
void check_output_folder(const std::filesystem::path& folder, const char* option = "--out");

// Writes bytes to a file atomically.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);
// Reads a whole file, or throws Error naming it.
std::string read_file(const std::filesystem::path& path);
// Flushes a file's data to stable storage (fsync), throwing Error on failure.
void fsync_path(const std::filesystem::path& path);

// On a terminating signal, remove pending temporary files, then die with the signal.
void install_cleanup_handlers();
// Removes every pending temporary file (async-signal-safe: for signal handlers).
void remove_pending_temporaries() noexcept;

}  // namespace climseg
