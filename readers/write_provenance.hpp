// Provenance of output files: the command that made them, climseg's version, the model checkpoint's
// SHA-256, the inputs, and a CF `history` line.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace climseg::io {

struct Provenance {
  std::string command_line;         // empty: this process's command line (/proc/self/cmdline)
  std::string checkpoint;           // model checkpoint path, when a model made the data
  std::string checkpoint_sha256;    // its hash (see file_sha256); computed at open when empty and checkpoint is set
  std::vector<std::string> inputs;  // source files, listed in `source_files`
  std::string previous_history;     // the input's `history`, kept below ours (CF appends history)
  std::vector<std::string> notes;   // said after our command in `history` ("time units ... rewritten as ...")
  std::string run_key;              // what determines the output (run_key.hpp), as climseg_run_key
  // false: no wall-clock time anywhere in the file, so the same inputs give byte-identical files.
  bool timestamp = true;
};

// SHA-256 of a file's bytes as 64 lowercase hex digits; throws Error naming the file.
std::string file_sha256(const std::filesystem::path& path);
// SHA-256 of bytes in memory.
std::string sha256_hex(const void* data, size_t size);
// This process's command line with arguments shell-quoted where needed ("climseg predict --in 'a b.nc'").
std::string process_command_line();
// "2026-11-28T10:04:05Z": now, in UTC.
std::string utc_timestamp();
// The CF history attribute: "<timestamp>: <command>" (no timestamp when provenance.timestamp is
// false), then the previous history on the next lines.
std::string history_text(const Provenance& provenance);

}  // namespace climseg::io
