// Writing a synthetic archive: CAM5-h2-like NetCDF files, optional WAVEWATCH III-like wave files,
// the planted truth as CSV and a JSON manifest; files are spread over MPI ranks.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "models/synth/synth.hpp"

namespace climseg::synth {

struct ArchiveFiles {
  std::vector<std::string> cam;    // every CAM-like file, in time order (paths)
  std::vector<std::string> waves;  // every wave file (under waves/), when asked for
  std::string cyclones_csv, rivers_csv, waves_csv, manifest;
};

// Dates of the run in its calendar (noleap or standard): step t is `start + t * hours`.
struct SynthClock {
  explicit SynthClock(const SynthConfig& config);
  std::string time_units() const;         // "days since YYYY-01-01 00:00:00"
  double time_value(int64_t step) const;  // in time_units
  // Date of a step: year, month, day and seconds of the day.
  struct Date {
    int year = 0, month = 1, day = 1, seconds = 0;
  };
  Date date(int64_t step) const;
  std::string iso(int64_t step) const;    // 2000-01-01T03:00:00
  std::string stamp(int64_t step) const;  // 2000-01-01-10800 (CAM history file names)

 private:
  const SynthConfig& config_;
  double start_days_ = 0;  // days from Jan 1 of the start year to the first step
};

// The canonical command that makes this archive (no output folder, so it is the same for the
// same parameters wherever they are written): "climseg synth --grid 192x288 --steps 16 ...".
std::string synth_command(const SynthConfig& config);

// Writes the archive under `dir` (created when missing). Files are split over the ranks of `comm` in
// contiguous blocks; rank 0 writes the CSV and manifest after gathering the truth. Every rank
// returns the complete list.
ArchiveFiles write_archive(const SynthConfig& config, const std::filesystem::path& dir, const Comm& comm,
                           bool progress = true);

// File names (without folder) of file k.
std::string cam_file_name(const SynthConfig& config, const SynthClock& clock, int64_t file_index);
std::string waves_file_name(const SynthConfig& config, const SynthClock& clock, int64_t file_index);

// CAM-like hybrid coefficients (interfaces, L + 1 values each; top first): p = a * P0 + b * ps.
void hybrid_coefficients(int levels, std::vector<double>& hyai, std::vector<double>& hybi);

// Significant wave height (m) from a surface wind speed (m/s), before spatial smoothing:
// Pierson-Moskowitz growth saturating at 15 m, plus 1.2 m of swell.
double wave_height(double wind_ms);

}  // namespace climseg::synth
