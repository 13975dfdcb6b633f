// Derived fields and detectors for one time step.
#include "models/heuristics/pipeline.hpp"

#include <limits>

#include "core/error.hpp"
#include "models/heuristics/labels.hpp"

namespace climseg::heuristics {

std::span<const float> StepFields::get(const std::string& role) const {
  auto it = planes.find(role);
  return it == planes.end() ? std::span<const float>{} : it->second;
}

std::vector<std::string> candidate_roles() {
  return {"u850", "v850", "psl", "ubot", "vbot", "t200", "t500", "z200", "z1000"};
}

std::vector<std::string> mask_roles(const DetectConfig& c) {
  std::vector<std::string> r;
  if (c.cyclones) r.insert(r.end(), {"tmq", "ubot", "vbot", "prect"});
  if (c.rivers) {
    if (c.ar_method != ArMethod::tmq) r.push_back("ivt");
    if (c.ar_method != ArMethod::ivt) r.push_back("tmq");
  }
  if (c.waves) r.push_back("hs");
  return r;
}

namespace {

std::span<const float> require(const StepFields& f, const std::string& role, const char* why) {
  auto p = f.get(role);
  if (p.empty()) fail("{}: the input has no '{}' field", why, role);
  if (p.size() != size_t(f.grid->size()))
    fail("{}: field '{}' has {} values, the grid {} has {}", why, role, p.size(), f.grid->shape_str(), f.grid->size());
  return p;
}

// Near-surface wind speed from ubot/vbot, falling back to 850 hPa winds.
std::vector<float> wind_speed_of(const StepFields& f, const char* why) {
  const bool bottom = f.has("ubot") && f.has("vbot");
  auto u = require(f, bottom ? "ubot" : "u850", why);
  auto v = require(f, bottom ? "vbot" : "v850", why);
  std::vector<float> w(u.size());
  geo::wind_speed(u, v, w);
  return w;
}

}  // namespace

std::vector<TcCandidate> step_candidates(const StepFields& f, const DetectConfig& c, int64_t step, double time_days) {
  if (f.grid == nullptr) fail("cyclone detection: no grid");
  const geo::Grid& g = *f.grid;
  const char* why = "cyclone detection";
  const size_t n = size_t(g.size());
  const int64_t W = g.width();
  std::vector<float> vort(n), wind = wind_speed_of(f, why), warm, thick;
  geo::relative_vorticity(g, require(f, "u850", why), require(f, "v850", why), vort);
  if (f.has("t200") && f.has("t500")) {
    warm.resize(n);
    geo::mean_of_two(require(f, "t200", why), require(f, "t500", why), warm);
  }
  if (f.has("z200") && f.has("z1000")) {
    thick.resize(n);
    geo::difference(require(f, "z200", why), require(f, "z1000", why), thick);
  }
  std::vector<float> psl(require(f, "psl", why).begin(), require(f, "psl", why).end());
  // Missing values (the reader gives 0 there) must never look like a storm: they become NaN, which
  // no threshold, extreme or closed-contour test accepts. A derived value is missing when any input
  // of its stencil is (the 4 neighbours for vorticity).
  auto invalid = [&](const char* role) -> std::span<const float> {
    auto it = f.valid.find(role);
    return it == f.valid.end() ? std::span<const float>{} : it->second;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto blank = [&](std::vector<float>& out, std::initializer_list<const char*> roles, bool stencil) {
    if (out.empty()) return;
    for (const char* r : roles) {
      auto v = invalid(r);
      if (v.empty()) continue;
      for (size_t k = 0; k < n; ++k) {
        if (v[k] != 0.0f) continue;
        out[k] = nan;
        if (!stencil) continue;
        const int64_t i = int64_t(k) / W, j = int64_t(k) % W;
        for (auto [di, dj] : {std::pair{-1, 0}, std::pair{1, 0}, std::pair{0, -1}, std::pair{0, 1}}) {
          const int64_t ii = i + di, jj = (j + dj + W) % W;
          if (ii >= 0 && ii < g.height()) out[size_t(ii * W + jj)] = nan;
        }
      }
    }
  };
  blank(vort, {"u850", "v850"}, true);
  blank(psl, {"psl"}, false);
  blank(wind, {"ubot", "vbot"}, false);
  blank(warm, {"t200", "t500"}, false);
  blank(thick, {"z200", "z1000"}, false);
  TcFields tf{vort, psl, wind, warm, thick};
  return detect_tc_candidates(g, tf, c.tc, step, time_days);
}

CandidatesAndMasks step_candidates_and_masks(const StepFields& f, const DetectConfig& c, int64_t step,
                                             double time_days) {
  CandidatesAndMasks out;
  out.candidates = step_candidates(f, c, step, time_days);
  if (out.candidates.empty()) return out;
  // As step_labels: the wind speed unblanked (step_candidates blanks its own copy).
  const std::vector<float> wind = wind_speed_of(f, "cyclone mask");
  std::vector<geo::LatLon> centres;
  for (const TcCandidate& k : out.candidates) centres.push_back({k.lat, k.lon});
  out.masks = tc_mask_runs(*f.grid, {f.get("tmq"), wind, f.get("prect")}, centres, c.tc_mask);
  return out;
}

StepLabels step_labels(const StepFields& f, const DetectConfig& c, const std::vector<geo::LatLon>& centres) {
  if (f.grid == nullptr) fail("labels: no grid");
  const geo::Grid& g = *f.grid;
  const size_t n = size_t(g.size());
  StepLabels out;
  if (c.cyclones) {
    out.cyclone.assign(n, 0);
    if (!centres.empty()) {
      std::vector<float> wind;
      if ((f.has("ubot") && f.has("vbot")) || (f.has("u850") && f.has("v850"))) wind = wind_speed_of(f, "cyclone mask");
      tc_mask(g, {f.get("tmq"), wind, f.get("prect")}, centres, c.tc_mask, out.cyclone, 1);
    }
  }
  if (c.rivers) {
    const bool use_ivt = c.ar_method == ArMethod::ivt || (c.ar_method == ArMethod::automatic && f.has("ivt"));
    if (use_ivt) {
      out.rivers = detect_ar_ivt(g, require(f, "ivt", "river detection (IVT)"), c.ivt);
    } else {
      out.rivers = detect_ar_tmq(g, require(f, "tmq", "river detection (TMQ)"), c.tmq);
    }
    out.rivers_from_ivt = use_ivt;
    out.river = out.rivers.mask;
  }
  if (c.waves) {
    auto it = f.valid.find("hs");
    out.waves = detect_extreme_waves(g, require(f, "hs", "wave detection"),
                                     it == f.valid.end() ? std::span<const float>{} : it->second, c.wave);
  }
  out.classes = merge_classes(n, out.cyclone, out.river, out.waves);
  return out;
}

}  // namespace climseg::heuristics
