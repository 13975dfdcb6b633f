// Cyclone trajectories: candidates of successive steps stitched greedily by nearest neighbour (the
// GFDL/TECA trajectory stage), kept when storm-force winds with a warm core persist long enough.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "geo/grid.hpp"
#include "models/heuristics/tc_detector.hpp"

namespace climseg::heuristics {

struct TrackParams {
  double max_daily_distance_km = 1600.0;  // a step Δt days later the next point lies within 1600·Δt km
  double min_wind_speed = 17.0;           // m s-1
  double min_wind_duration_days = 2.0;    // total time with wind >= min_wind_speed, warm core and thickness
  bool require_warm_core = true;          // count only points that also pass the warm-core test ...
  bool require_thickness = true;          // ... and the thickness test (TECA)
  bool allow_equator_crossing = false;    // GFDL never links across the equator
  // Steps a track may skip: a track whose next step has no candidate within reach may take one up
  // to max_gap_steps steps later, within max_daily_distance_km times the time between them (as
  // TempestExtremes' StitchNodes --maxgap). 0 (TECA's rule and StitchNodes' default): a step
  // without a candidate ends the track. 1 bridges a step whose data is missing.
  int max_gap_steps = 0;
  // A track that touches the first or last step of the archive was cut by it: its real duration is
  // unknown, so it needs only this much wind duration (TECA runs on decades, where that hardly
  // happens; label jobs run on chunks, where dropping storms at the edges leaves them unlabelled).
  // Set it equal to min_wind_duration_days for TECA's exact rule.
  double min_censored_wind_duration_days = 1.0;

  void validate() const;
};

struct TcTrack {
  int64_t id = 0;  // 0, 1, ... in order of genesis (time, then latitude, then longitude)
  std::vector<TcCandidate> points;
  double wind_duration_days = 0;
};

// `step_times_days[s]` is the time of archive step s (every step, with or without candidates), so a
// step without candidates ends the tracks that reach it, as in TECA. Candidates may come in any
// order (for example gathered from MPI ranks); the result does not depend on it.
//
// Stitching: candidates are taken in (step, latitude, longitude) order; each still free one starts
// a track, which repeatedly takes the nearest free candidate of the next step within
// max_daily_distance · Δt (when that step has none, of the first of the following max_gap_steps
// steps that has one, Δt counted from the track's last point). The wind duration of a track is the sum, over its points
// that have wind
// >= min_wind_speed (and the warm core and thickness when required), of the time to the next point
// (for the last point: from the previous one). Tracks of at least two points with a wind duration
// >= min_wind_duration_days are kept (>= min_censored_wind_duration_days for a track that touches
// the first or last step).
std::vector<TcTrack> stitch_tracks(std::vector<TcCandidate> candidates, const std::vector<double>& step_times_days,
                                   const TrackParams& params);

// The track table as CSV: a header line, then one row per point.
// track_id,step,time,lat,lon,psl_min_pa,wind_max_m_s,vorticity_s-1,warm_core,warm_core_delta_k,thickness,thickness_delta_m
// `step_iso[s]` gives the time text of step s; longitudes are written as the input file writes
// them (`file`: -180..180 for a file in -180..180, else 0..360).
void write_tracks_csv(std::ostream& out, const std::vector<TcTrack>& tracks, const std::vector<std::string>& step_iso,
                      const geo::Orientation& file = {});

}  // namespace climseg::heuristics
