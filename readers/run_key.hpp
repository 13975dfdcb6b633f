// Rerun keys: what determines an output, recorded in it, so that a rerun keeps an existing output
// only when it would write the same one and redoes (or refuses) it otherwise.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/enum_names.hpp"

namespace climseg::io {

// The command, its resolved configuration (keyed by the user-facing option names: "--ivt-threshold"),
// the identity of the input files (path, size, modification time), the model's SHA-256 (predict)
// and the climseg version. Stored in NetCDF outputs as the global attribute `climseg_run_key`
// (compact JSON) and in summaries as "run_key".
struct RunKey {
  nlohmann::json json;
  std::string text() const { return json.dump(); }
};

inline constexpr const char* kRunKeyAttr = "climseg_run_key";

// {"path": absolute, "size": bytes, "mtime_ns": modification time}; throws Error naming a missing file.
nlohmann::json file_identity(const std::filesystem::path& path);
RunKey make_run_key(const std::string& command, nlohmann::json config, const std::vector<std::string>& inputs,
                    const std::string& model_sha256 = {});

// The key an existing NetCDF output carries; nullopt when it has none (written by an older climseg
// or another program) or cannot be read as NetCDF.
std::optional<nlohmann::json> read_run_key(const std::filesystem::path& output);

// What a rerun that keeps an earlier output reads back from it: the length of the first dimension
// of `var` (its time steps) and the global text attributes named in `text_attrs`. nullopt when the
// file cannot be read as NetCDF, lacks `var` with `var_rank` dimensions, or lacks one of the
// attributes (an output of an older climseg: redone).
struct KeptOutput {
  int64_t steps = 0;
  std::map<std::string, std::string> attrs;
};
std::optional<KeptOutput> read_kept_output(const std::filesystem::path& output, const std::string& var, int var_rank,
                                           const std::vector<std::string>& text_attrs);

// "" when the keys are equal; else what differs first, in the user's words:
// "--ivt-threshold is 250 in it, 300 now", "input a.nc changed (size or time)", "another model
// (checksum)", "climseg 0.1.0 wrote it, this is 0.2.0".
std::string run_key_difference(const nlohmann::json& existing, const nlohmann::json& now);

// What a rerun does with an output that exists: keep it when its key matches and redo it
// otherwise (the default), redo every output (--overwrite), or stop with an error naming the
// difference (--no-overwrite).
enum class Rerun { keep_matching, overwrite, refuse_different };

// True: keep the existing `output` (its key equals `key`). False: write it (it does not exist,
// differs, or policy is overwrite; a log line says why when it existed). Throws Error naming the
// file and the difference when it differs and policy is refuse_different.
bool keep_existing(const std::filesystem::path& output, const RunKey& key, Rerun policy);

}  // namespace climseg::io

template <>
struct climseg::config::EnumTable<climseg::io::Rerun> {
  static constexpr std::pair<const char*, io::Rerun> names[] = {
      {"keep", io::Rerun::keep_matching}, {"overwrite", io::Rerun::overwrite}, {"refuse", io::Rerun::refuse_different}};
};
