// Greedy nearest-neighbour stitching of cyclone candidates into tracks.
#include "models/heuristics/tc_tracks.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ostream>

#include "core/error.hpp"
#include "geo/grid.hpp"

namespace climseg::heuristics {

void TrackParams::validate() const {
  // Messages name the `climseg label` option that sets each parameter.
  if (!(max_daily_distance_km > 0)) fail_usage("--max-daily-distance {}: must be positive", max_daily_distance_km);
  if (!(min_wind_speed >= 0)) fail_usage("--min-wind-speed {}: must be 0 or more", min_wind_speed);
  if (!(min_censored_wind_duration_days >= 0))
    fail_usage("--min-wind-duration-at-edges {}: must be 0 or more", min_censored_wind_duration_days);
  if (!(min_wind_duration_days >= 0)) fail_usage("--min-wind-duration {}: must be 0 or more", min_wind_duration_days);
  if (max_gap_steps < 0) fail_usage("--max-gap {}: must be 0 or more", max_gap_steps);
}

std::vector<TcTrack> stitch_tracks(std::vector<TcCandidate> cands, const std::vector<double>& times,
                                   const TrackParams& p) {
  p.validate();
  const int64_t S = static_cast<int64_t>(times.size());
  for (size_t s = 1; s < times.size(); ++s)
    if (!(times[s] > times[s - 1])) fail("tracks: step times must increase (step {} at {} days)", s, times[s]);
  for (const auto& c : cands)
    if (c.step < 0 || c.step >= S) fail("tracks: a candidate refers to step {} of {}", c.step, S);
  std::sort(cands.begin(), cands.end(), [](const TcCandidate& a, const TcCandidate& b) {
    if (a.step != b.step) return a.step < b.step;
    if (a.lat != b.lat) return a.lat < b.lat;
    return a.lon < b.lon;
  });
  // First candidate of each step (offsets into the sorted list).
  std::vector<size_t> first(size_t(S) + 1, cands.size());
  for (size_t k = cands.size(); k-- > 0;) first[size_t(cands[k].step)] = k;
  for (int64_t s = S - 1; s >= 0; --s) first[size_t(s)] = std::min(first[size_t(s)], first[size_t(s) + 1]);

  auto counts = [&](const TcCandidate& c) {
    return c.wind_max >= p.min_wind_speed && (!p.require_warm_core || c.warm_core) &&
           (!p.require_thickness || c.thickness);
  };

  std::vector<bool> used(cands.size(), false);
  std::vector<TcTrack> tracks;
  for (size_t start = 0; start < cands.size(); ++start) {
    if (used[start]) continue;
    used[start] = true;
    std::vector<size_t> track = {start};
    for (;;) {
      const TcCandidate& tip = cands[track.back()];
      size_t best = cands.size();
      double best_d = 0;
      // The next step first; the following ones only when it has no candidate within reach.
      for (int64_t s = tip.step + 1; s < S && s <= tip.step + 1 + p.max_gap_steps && best == cands.size(); ++s) {
        const double dt = times[size_t(s)] - times[size_t(tip.step)];
        const double reach_m = p.max_daily_distance_km * 1e3 * dt;
        for (size_t k = first[size_t(s)]; k < first[size_t(s) + 1]; ++k) {
          if (used[k]) continue;
          if (!p.allow_equator_crossing && cands[k].lat * tip.lat < 0) continue;
          const double d = geo::great_circle_m(tip.lat, tip.lon, cands[k].lat, cands[k].lon);
          if (d <= reach_m && (best == cands.size() || d < best_d)) {
            best = k;
            best_d = d;
          }
        }
      }
      if (best == cands.size()) break;
      used[best] = true;
      track.push_back(best);
    }
    if (track.size() < 2) continue;
    double duration = 0;
    for (size_t k = 0; k < track.size(); ++k) {
      const TcCandidate& c = cands[track[k]];
      if (!counts(c)) continue;
      const TcCandidate& a = cands[track[k + 1 < track.size() ? k : k - 1]];
      const TcCandidate& b = cands[track[k + 1 < track.size() ? k + 1 : k]];
      duration += times[size_t(b.step)] - times[size_t(a.step)];
    }
    const bool censored = cands[track.front()].step == 0 || cands[track.back()].step == S - 1;
    const double needed =
        censored ? std::min(p.min_wind_duration_days, p.min_censored_wind_duration_days) : p.min_wind_duration_days;
    if (duration + 1e-9 < needed) continue;
    TcTrack t;
    t.id = static_cast<int64_t>(tracks.size());
    t.wind_duration_days = duration;
    for (size_t k : track) t.points.push_back(cands[k]);
    tracks.push_back(std::move(t));
  }
  return tracks;
}

void write_tracks_csv(std::ostream& out, const std::vector<TcTrack>& tracks, const std::vector<std::string>& step_iso,
                      const geo::Orientation& file) {
  out << "track_id,step,time,lat,lon,psl_min_pa,wind_max_m_s,vorticity_s-1,warm_core,warm_core_delta_k,thickness,"
         "thickness_delta_m\n";
  for (const auto& t : tracks)
    for (const auto& c : t.points) {
      const std::string when = c.step >= 0 && size_t(c.step) < step_iso.size() ? step_iso[size_t(c.step)] : "";
      out << fmt::format("{},{},{},{:.4f},{:.4f},{:.1f},{:.2f},{:.4e},{},{:.3f},{},{:.2f}\n", t.id, c.step, when, c.lat,
                         file.file_longitude(c.lon), c.psl_min, c.wind_max, c.vorticity, c.warm_core ? 1 : 0,
                         c.warm_core_delta, c.thickness ? 1 : 0, c.thickness_delta);
    }
}

}  // namespace climseg::heuristics
