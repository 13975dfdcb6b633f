// The synthetic atmosphere: zonal-mean climate, travelling geostrophic weather, Holland (1980)
// cyclones and atmospheric-river filaments, then the fields CAM5 would output. See docs/synth.md.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.hpp"
#include "geo/cubed_sphere.hpp"
#include "models/synth/rng.hpp"
#include "models/synth/synth.hpp"

namespace climseg::synth {
namespace {

using geo::kDegToRad;
using geo::kEarthRadius;
using geo::kPi;

constexpr double kKmPerDeg = kEarthRadius * kDegToRad / 1000.0;  // 111.2 km
constexpr double kCycloneOuterKm = 1500.0;                       // vortex tapered to zero here

double gauss(double x, double c, double w) {
  const double z = (x - c) / w;
  return std::exp(-z * z);
}
double smoothstep(double e0, double e1, double x) {
  double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}
double wrap360(double lon) {
  double l = std::fmod(lon, 360.0);
  return l < 0 ? l + 360.0 : l;
}
double wrap180(double d) {
  double l = std::fmod(d + 540.0, 360.0);
  return (l < 0 ? l + 360.0 : l) - 180.0;
}
double great_circle_km(double lat1, double lon1, double lat2, double lon2) {
  return geo::great_circle_m(lat1, lon1, lat2, lon2) / 1000.0;
}

// Zonal-mean climate of an aquaplanet at latitude `lat` (degrees), with the thermal equator at `lat_s`.
struct Zonal {
  double ts, t500, t200, psl, ubot, vbot, u850, v850, u200, v200, rh, lambda, prect;
};

Zonal zonal_mean(double lat, double lat_s) {
  Zonal z{};
  const double x = (lat - lat_s) * kDegToRad;
  const double a = std::abs(lat);
  const double hemi = lat >= 0 ? 1.0 : -1.0;
  const double c = std::max(0.0, std::cos(x));
  z.ts = 245.0 + 55.0 * c;               // SST: 300 K on the thermal equator, 245 K at the poles
  z.t500 = 233.0 + 35.0 * c * c;         // 268 K tropics, 233 K poles
  z.t200 = 217.0 + 4.0 * (1.0 - c * c);  // nearly uniform near the tropopause
  z.psl = 101100.0 + 800.0 * gauss(a, 30, 10) - 1400.0 * gauss(a, 62, 9) + 300.0 * gauss(a, 90, 10);
  z.ubot = -6.5 * gauss(a, 14, 9) + 7.5 * gauss(a, 48, 10) - 2.5 * gauss(a, 72, 6);  // trades, westerlies
  z.vbot = hemi * (-2.5 * gauss(a, 12, 8) + 1.0 * gauss(a, 45, 10));                 // Hadley and Ferrel cells
  z.u850 = -5.0 * gauss(a, 13, 9) + 7.0 * gauss(a, 45, 10) - 2.0 * gauss(a, 75, 6);
  z.v850 = 0.6 * z.vbot;
  z.u200 = 30.0 * gauss(a, 32, 9) + 10.0 * gauss(a, 55, 10) - 4.0 * gauss(a, 0, 10);  // subtropical jet
  z.v200 = -0.8 * z.vbot;
  z.rh = 0.72 + 0.08 * gauss(lat, lat_s, 10) - 0.10 * gauss(a, 25, 7);  // moist ITCZ, dry subtropics
  z.lambda = 3.5 - 0.3 * gauss(lat, lat_s, 12);
  z.prect = 1.2e-7 * gauss(lat, lat_s, 6) + 4.0e-8 * gauss(a, 45, 12) + 1.0e-8;  // m/s (ITCZ 10 mm/day)
  return z;
}

// The column model: values between the surface, 850 hPa and 200 hPa anchors (p in Pa).
double wind_at(double p, double ps, double w_bot, double w850, double w200) {
  if (p >= 85000.0) {
    if (ps <= 85000.0) return w850;
    double f = std::clamp((p - 85000.0) / (ps - 85000.0), 0.0, 1.0);
    return w850 + (w_bot - w850) * f;
  }
  if (p <= 20000.0) return w200;
  double f = std::log(85000.0 / p) / std::log(85000.0 / 20000.0);
  return w850 + (w200 - w850) * f;
}
double q_at(double p, double ps, double q0, double lambda) { return q0 * std::pow(std::min(p, ps) / ps, lambda); }

// Gradient wind of Holland's (1980) profile at radius r (m): dp (Pa), rmw (m), latitude (deg).
double holland_wind(double r, double dp, double rmw, double b, double lat) {
  if (r <= 0) return 0.0;
  const double f = std::abs(2.0 * kOmega * std::sin(lat * kDegToRad));
  const double x = std::pow(rmw / r, b);
  const double cyclostrophic = b * dp / kRhoAir * x * std::exp(-x);
  return std::sqrt(cyclostrophic + 0.25 * r * r * f * f) - 0.5 * r * f;
}

// Day of year (0-based, noleap-style) of the start date, for the seasonal cycle.
double start_day_of_year(const SynthConfig& c) {
  static const int cum[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  return cum[std::clamp(c.start_month, 1, 12) - 1] + (c.start_day - 1) + c.start_hour / 24.0;
}

// The output planes of one step: (16, n) fields plus the column model's anchors, n cells in any
// layout (a lat-lon grid row-major, or unstructured columns).
struct Planes {
  float* F[kChannelCount];
  float* RH;  // relative humidity until derive_cell turns it into QREFHT (it is F[kQREFHT])
  float *U200, *V200, *LAM, *LAB;
  size_t n = 0;  // cells per plane
};

Planes planes_of(StepFields& out, size_t cells) {
  Planes o;
  for (int c = 0; c < kChannelCount; ++c) o.F[c] = out.fields.data() + size_t(c) * cells;
  o.RH = o.F[kQREFHT];
  o.U200 = out.u200.data();
  o.V200 = out.v200.data();
  o.LAM = out.lambda.data();
  o.LAB = out.labels.data();
  o.n = cells;
  return o;
}

// What one latitude contributes to the travelling waves: P' = Σ A cos(mλ) − B sin(mλ) and its
// derivatives, per mode (float, as the rows are summed).
struct ModeRow {
  std::vector<float> A, B, C, D, mk;
  std::vector<char> live;
};
void mode_row(const std::vector<World::Mode>& modes, double lat, double seconds, ModeRow& r) {
  const size_t K = modes.size();
  r.A.resize(K), r.B.resize(K), r.C.resize(K), r.D.resize(K), r.mk.resize(K), r.live.resize(K);
  const double phi = lat * kDegToRad;
  for (size_t k = 0; k < K; ++k) {
    const World::Mode& m = modes[k];
    const double e = m.amp_pa * gauss(lat, m.lat_c, m.lat_w);
    const double de = e * (-2.0 * (lat - m.lat_c) / (m.lat_w * m.lat_w)) / kDegToRad;  // per radian
    const double ph = m.tilt * (phi - m.lat_c * kDegToRad) + m.phase - m.omega * seconds;
    const double cp = std::cos(ph), sp = std::sin(ph);
    r.A[k] = float(e * cp);
    r.B[k] = float(e * sp);
    r.C[k] = float(de * cp - e * m.tilt * sp);
    r.D[k] = float(de * sp + e * m.tilt * cp);
    r.mk[k] = float(m.m);
    r.live[k] = gauss(lat, m.lat_c, m.lat_w) > 1e-7;  // a wave far from its band adds nothing here
  }
}

// The geostrophic constants of one latitude.
struct RowConstants {
  Zonal z;
  double hemi, gy, gx, cr, sr, polar;
};
RowConstants row_constants(double lat, double lat_s) {
  RowConstants c;
  c.z = zonal_mean(lat, lat_s);
  const double phi = lat * kDegToRad;
  const double coslat = std::max(std::cos(phi), 0.05);
  c.hemi = lat >= 0 ? 1.0 : -1.0;
  const double f_eff = c.hemi * std::max(std::abs(2 * kOmega * std::sin(phi)), 2 * kOmega * std::sin(12 * kDegToRad));
  c.gy = -1.0 / (kRhoAir * f_eff * kEarthRadius);          // u_g = gy * dP/dphi
  c.gx = 1.0 / (kRhoAir * f_eff * kEarthRadius * coslat);  // v_g = gx * dP/dlon
  const double rot = c.hemi * 20.0 * kDegToRad;            // surface flow turns toward low pressure
  c.cr = std::cos(rot);
  c.sr = std::sin(rot);
  c.polar = std::min(1.0, (90.0 - std::abs(lat)) / 8.0);
  return c;
}

// Background climate and weather of one cell from the pressure anomaly and its derivatives.
inline void background_cell(const RowConstants& rc, double p, double dpdl, double dpdp, Planes& o, size_t n) {
  const Zonal& z = rc.z;
  float* const* F = o.F;
  const double ug = rc.polar * rc.gy * dpdp, vg = rc.polar * rc.gx * dpdl;
  const double poleward = rc.hemi * vg;
  F[kPSL][n] = float(z.psl + p);
  F[kU850][n] = float(z.u850 + ug);
  F[kV850][n] = float(z.v850 + vg);
  F[kUBOT][n] = float(z.ubot + 0.7 * (ug * rc.cr - vg * rc.sr));
  F[kVBOT][n] = float(z.vbot + 0.7 * (ug * rc.sr + vg * rc.cr));
  o.U200[n] = float(z.u200 + 1.8 * ug);
  o.V200[n] = float(z.v200 + 1.8 * vg);
  F[kT500][n] = float(z.t500 + p / 250.0);  // ridges warm, troughs cold
  F[kT200][n] = float(z.t200 - p / 800.0);
  F[kTS][n] = float(z.ts);
  F[kTREFHT][n] = float(z.ts - 1.0 + 0.1 * poleward);  // warm where the flow comes from the equator
  const double x = poleward / 8.0;                     // saturating: x / sqrt(1 + x^2)
  o.RH[n] = float(std::clamp(z.rh + 0.05 * x / std::sqrt(1.0 + x * x) - 0.04 * p / 1000.0, 0.3, 0.97));
  o.LAM[n] = float(z.lambda);
  const double lift = std::max(0.0, poleward / 10.0 - p / 2000.0);
  F[kPRECT][n] = float(z.prect + 1.2e-7 * lift * lift);
  o.LAB[n] = float(kBackground);
}

// A cyclone's contribution to one cell at r_km from its centre; dx_deg is the cell's longitude east
// of the centre (unwrapped), coslat the cosine of the cell's latitude.
inline void cyclone_cell(const CycloneState& cs, double lat, double dx_deg, double coslat, double r_km, Planes& o,
                         size_t n) {
  const double lat_c = cs.centre.lat;
  const double dp_hpa = cs.dp_pa / 100.0, rmw_m = cs.rmw_km * 1000.0, b = cs.holland_b;
  const double hemi = cs.north ? 1.0 : -1.0;
  const double rw_km = std::max(300.0, 3.0 * cs.rmw_km);
  float* const* F = o.F;
  const double r = r_km * 1000.0;
  const double taper = r_km < 0.6 * kCycloneOuterKm
                           ? 1.0
                           : 0.5 * (1 + std::cos(kPi * (r_km - 0.6 * kCycloneOuterKm) / (0.4 * kCycloneOuterKm)));
  const double x = r > 0 ? std::pow(rmw_m / r, b) : 1e30;
  const double deficit = cs.dp_pa * (1.0 - std::exp(-x)) * taper;
  const double v = holland_wind(r, cs.dp_pa, rmw_m, b, lat_c) * taper;
  // Local east/north unit vectors from the centre (radial) and the cyclonic tangent.
  const double dx = dx_deg * kDegToRad * kEarthRadius * coslat;
  const double dy = (lat - lat_c) * kDegToRad * kEarthRadius;
  const double norm = std::hypot(dx, dy);
  const double ex = norm > 0 ? dx / norm : 0.0, ey = norm > 0 ? dy / norm : 0.0;
  const double tx = -hemi * ey, ty = hemi * ex;                    // counter-clockwise in the north
  const double carry = 0.5 * std::exp(-r_km / (4.0 * cs.rmw_km));  // storm motion adds on one side
  const double as = 20.0 * kDegToRad, a8 = 8.0 * kDegToRad;
  const double vs = 0.85 * v, v8 = v;
  F[kPSL][n] -= float(deficit);
  F[kUBOT][n] += float(vs * (std::cos(as) * tx - std::sin(as) * ex) + carry * cs.move_east_ms);
  F[kVBOT][n] += float(vs * (std::cos(as) * ty - std::sin(as) * ey) + carry * cs.move_north_ms);
  F[kU850][n] += float(v8 * (std::cos(a8) * tx - std::sin(a8) * ex) + carry * cs.move_east_ms);
  F[kV850][n] += float(v8 * (std::cos(a8) * ty - std::sin(a8) * ey) + carry * cs.move_north_ms);
  o.U200[n] += float(-0.15 * v * tx + 0.1 * v * ex);  // weak anticyclonic outflow aloft
  o.V200[n] += float(-0.15 * v * ty + 0.1 * v * ey);
  const double wc = std::exp(-(r_km / rw_km) * (r_km / rw_km));
  F[kT500][n] += float(0.17 * dp_hpa * wc);
  F[kT200][n] += float(0.25 * dp_hpa * wc);
  F[kTREFHT][n] += float(0.03 * dp_hpa * wc);
  const double mw = std::exp(-(r_km / 450.0) * (r_km / 450.0));
  o.RH[n] += float((0.95 - o.RH[n]) * mw);
  o.LAM[n] += float((2.2 - o.LAM[n]) * mw);
  const double rr = r_km / (2.5 * cs.rmw_km);
  F[kPRECT][n] += float(4e-6 * (cs.dp_pa / 5000.0) * std::exp(-rr * rr) + 3e-7 * mw);
  if (vs >= kLabelWindMs || r_km <= cs.rmw_km) o.LAB[n] = float(kCyclone);
}

// A river's geometry, as every cell sees it.
struct RiverGeometry {
  const RiverState* rs = nullptr;
  std::vector<double> rel;  // axis longitudes made continuous and relative to its first point
  int64_t nseg = 0;
  double two_s2 = 0, reach = 0, lat_lo = 90, lat_hi = -90, west = 0, east = 0, pad = 0;
};
RiverGeometry river_geometry(const RiverState& rs) {
  RiverGeometry g;
  g.rs = &rs;
  for (const auto& p : rs.axis) {
    g.lat_lo = std::min(g.lat_lo, p.lat);
    g.lat_hi = std::max(g.lat_hi, p.lat);
  }
  g.reach = 4.0 * rs.sigma_km / kKmPerDeg;
  // Longitudes spanned by the axis (it may cross 0), measured from its first point.
  for (const auto& p : rs.axis) {
    const double d = wrap180(p.lon - rs.axis[0].lon);
    g.west = std::min(g.west, d);
    g.east = std::max(g.east, d);
  }
  const double cos_edge =
      std::max(0.2, std::cos((std::max(std::abs(g.lat_lo), std::abs(g.lat_hi)) + g.reach) * kDegToRad));
  g.pad = g.reach / cos_edge;
  g.nseg = int64_t(rs.axis.size()) - 1;
  g.two_s2 = 2.0 * rs.sigma_km * rs.sigma_km;
  g.rel.assign(rs.axis.size(), 0.0);
  for (size_t k = 1; k < rs.axis.size(); ++k) g.rel[k] = g.rel[k - 1] + wrap180(rs.axis[k].lon - rs.axis[k - 1].lon);
  return g;
}
// Axis segments within reach of latitude `lat`.
void river_segments_near(const RiverGeometry& g, double lat, std::vector<int64_t>& near) {
  near.clear();
  const auto& axis = g.rs->axis;
  for (int64_t k = 0; k < g.nseg; ++k) {
    const double lo = std::min(axis[size_t(k)].lat, axis[size_t(k + 1)].lat) - g.reach;
    const double hi = std::max(axis[size_t(k)].lat, axis[size_t(k + 1)].lat) + g.reach;
    if (lat >= lo && lat <= hi) near.push_back(k);
  }
}
// A river's contribution to one cell at latitude `lat`, `x` degrees east of the axis start
// (unwrapped); the strongest filament of each cell is kept in ar_w / ar_id for the label.
inline void river_cell(const RiverGeometry& g, const std::vector<int64_t>& near, double lat, double x, Planes& o,
                       size_t n, std::vector<float>& ar_w, std::vector<int>& ar_id) {
  const RiverState& rs = *g.rs;
  const double kx = kEarthRadius / 1000.0 * kDegToRad * std::max(std::cos(lat * kDegToRad), 1e-3);
  const double ky = kEarthRadius / 1000.0 * kDegToRad;
  // Nearest point of the axis in the local tangent plane of this cell (km).
  double best = 1e300, s_best = 0, txb = 1, tyb = 0;
  for (int64_t k : near) {
    const double ax = (g.rel[size_t(k)] - x) * kx, ay = (rs.axis[size_t(k)].lat - lat) * ky;
    const double cx = (g.rel[size_t(k + 1)] - x) * kx, cy = (rs.axis[size_t(k + 1)].lat - lat) * ky;
    const double sx = cx - ax, sy = cy - ay;
    const double len2 = sx * sx + sy * sy;
    const double t = len2 > 0 ? std::clamp(-(ax * sx + ay * sy) / len2, 0.0, 1.0) : 0.0;
    const double px = ax + t * sx, py = ay + t * sy;
    const double d2 = px * px + py * py;
    if (d2 < best) {
      best = d2;
      s_best = (double(k) + t) / double(g.nseg);
      const double len = std::sqrt(len2);
      txb = len > 0 ? sx / len : 1.0;
      tyb = len > 0 ? sy / len : 0.0;
    }
  }
  const double w = rs.strength * (1.0 - 0.3 * s_best) * std::exp(-best / g.two_s2);
  if (w < 0.005) return;
  float* const* F = o.F;
  const double jet = rs.jet_ms * w;
  F[kU850][n] += float(jet * txb);
  F[kV850][n] += float(jet * tyb);
  F[kUBOT][n] += float(0.6 * jet * txb);
  F[kVBOT][n] += float(0.6 * jet * tyb);
  o.U200[n] += float(0.5 * jet * txb);
  o.V200[n] += float(0.5 * jet * tyb);
  o.RH[n] += float((0.95 - o.RH[n]) * w);
  o.LAM[n] += float((1.8 - o.LAM[n]) * w);
  F[kTREFHT][n] += float(4.0 * w);
  F[kT500][n] += float(1.0 * w);
  F[kPRECT][n] += float(4e-7 * w * w);
  if (w > ar_w[n]) {
    ar_w[n] = float(w);
    ar_id[n] = rs.id;
  }
}

// What CAM5 writes, from the state of one cell: moisture, pressure and heights.
inline void derive_cell(Planes& o, size_t n) {
  float* const* F = o.F;
  const double psl = F[kPSL][n], t2 = F[kTREFHT][n];
  const double q0 = double(o.RH[n]) * qsat(t2, psl);
  F[kPS][n] = float(psl);  // aquaplanet: the surface is at sea level
  F[kQREFHT][n] = float(q0);
  F[kTMQ][n] = float(q0 * psl / (kGravity * (double(o.LAM[n]) + 1.0)));
  const double z1000 = kRdry * t2 / kGravity * std::log(psl / 100000.0);
  const double tbar = 0.25 * (t2 + 2.0 * F[kT500][n] + F[kT200][n]);
  F[kZ1000][n] = float(z1000);
  F[kZ200][n] = float(z1000 + kRdry * tbar / kGravity * std::log(5.0));
  F[kZBOT][n] = float(kRdry * t2 / kGravity * std::log(1.0 / 0.9925));  // lowest level at 0.9925 ps
}

// IVT magnitude (kg m-1 s-1) of cell n from the column model on pressure levels `plev` (hPa).
double column_ivt(const StepFields& s, size_t cells, size_t n, const std::vector<double>& plev) {
  const float* F = s.fields.data();
  const double ps = F[kPS * cells + n], q0 = F[kQREFHT * cells + n], lam = s.lambda[int64_t(n)];
  double fu = 0, fv = 0, prev_qu = 0, prev_qv = 0, prev_p = 0;
  for (size_t k = 0; k < plev.size(); ++k) {
    const double p = plev[k] * 100.0;
    const double q = q_at(p, ps, q0, lam);
    const double qu = q * wind_at(p, ps, F[kUBOT * cells + n], F[kU850 * cells + n], s.u200[int64_t(n)]);
    const double qv = q * wind_at(p, ps, F[kVBOT * cells + n], F[kV850 * cells + n], s.v200[int64_t(n)]);
    if (k > 0) {
      fu += 0.5 * (qu + prev_qu) * (prev_p - p);
      fv += 0.5 * (qv + prev_qv) * (prev_p - p);
    }
    prev_qu = qu;
    prev_qv = qv;
    prev_p = p;
  }
  return std::hypot(fu, fv) / kGravity;
}

}  // namespace

const std::array<ChannelInfo, kChannelCount>& cam5_channels() {
  static const std::array<ChannelInfo, kChannelCount> channels = {{
      {"TMQ", "kg/m2", "Total (vertically integrated) precipitable water", "atmosphere_mass_content_of_water_vapor"},
      {"U850", "m/s", "Zonal wind at 850 mbar pressure surface", "eastward_wind"},
      {"V850", "m/s", "Meridional wind at 850 mbar pressure surface", "northward_wind"},
      {"UBOT", "m/s", "Lowest model level zonal wind", "eastward_wind"},
      {"VBOT", "m/s", "Lowest model level meridional wind", "northward_wind"},
      {"QREFHT", "kg/kg", "Reference height humidity", "specific_humidity"},
      {"PS", "Pa", "Surface pressure", "surface_air_pressure"},
      {"PSL", "Pa", "Sea level pressure", "air_pressure_at_mean_sea_level"},
      {"T200", "K", "Temperature at 200 mbar pressure surface", "air_temperature"},
      {"T500", "K", "Temperature at 500 mbar pressure surface", "air_temperature"},
      {"PRECT", "m/s", "Total (convective and large-scale) precipitation rate (liq + ice)", "lwe_precipitation_rate"},
      {"TS", "K", "Surface temperature (radiative)", "surface_temperature"},
      {"TREFHT", "K", "Reference height temperature", "air_temperature"},
      {"Z1000", "m", "Geopotential Z at 1000 mbar pressure surface", "geopotential_height"},
      {"Z200", "m", "Geopotential Z at 200 mbar pressure surface", "geopotential_height"},
      {"ZBOT", "m", "Lowest model level height", "height"},
  }};
  return channels;
}

double qsat(double t_k, double p_pa) {
  const double es = 611.2 * std::exp(17.67 * (t_k - 273.15) / (t_k - 29.65));
  return 0.622 * es / std::max(p_pa - 0.378 * es, 1.0);
}

std::pair<int64_t, int64_t> latlon_size_of(const std::string& name) {
  const auto spec = geo::parse_cubed_sphere(name);
  if (!spec) fail_usage("--grid {}: not a cubed sphere (neXnpY or neXpgY)", name);
  const double per_edge = spec->pg > 0 ? double(spec->ne) * spec->pg : double(spec->ne) * (spec->np - 1);
  const double spacing = 90.0 / per_edge;  // degrees between columns along the equator
  return {int64_t(std::lround(180.0 / spacing)) + 1, int64_t(std::lround(360.0 / spacing))};
}

void validate(const SynthConfig& c) {
  if (!c.columns.empty()) {
    const auto spec = geo::parse_cubed_sphere(c.columns);
    if (!spec) fail_usage("--grid {}: not a cubed sphere (neXnpY or neXpgY)", c.columns);
    if (spec->columns() > 50'000'000)
      fail_usage("--grid {}: {} columns is more than synth writes", c.columns, spec->columns());
    if (c.waves || c.levels != Levels::none || c.lat_descending)
      fail_usage("--grid {}: --waves, --levels and --lat-descending are for lat-lon archives", c.columns);
  }
  if (c.height < 16 || c.width < 32 || c.height > 4096 || c.width > 8192)
    fail_usage("--grid {}x{}: needs 16..4096 latitudes and 32..8192 longitudes", c.height, c.width);
  if (c.steps < 1) fail_usage("--steps {}: must be at least 1", c.steps);
  if (c.steps_per_file < 1) fail_usage("--steps-per-file {}: must be at least 1", c.steps_per_file);
  if (!(c.hours > 0 && c.hours <= 24 * 31)) fail_usage("--hours {}: must be in (0, 744]", c.hours);
  if (c.calendar != "noleap" && c.calendar != "standard")
    fail_usage("--calendar {}: use noleap or standard", c.calendar);
  if (c.start_month < 1 || c.start_month > 12 || c.start_day < 1 || c.start_day > 31 || c.start_hour < 0 ||
      c.start_hour > 23)
    fail_usage("--start: not a valid date");
  if (c.start_year < 1583 || c.start_year > 9999) fail_usage("--start: years 1583..9999 only");
  if (!(c.cyclones >= 0 && c.cyclones <= 100)) fail_usage("--cyclones {}: must be 0..100", c.cyclones);
  if (!(c.rivers >= 0 && c.rivers <= 100)) fail_usage("--rivers {}: must be 0..100", c.rivers);
  if (c.deflate_level < 0 || c.deflate_level > 9) fail_usage("--deflate {}: must be 0..9", c.deflate_level);
  if (c.levels == Levels::pressure) {
    if (c.plev_hpa.size() < 2) fail_usage("--plev: needs at least two levels");
    for (size_t k = 0; k < c.plev_hpa.size(); ++k) {
      if (!(c.plev_hpa[k] > 0 && c.plev_hpa[k] <= 1100))
        fail_usage("--plev: {} hPa is not a pressure level", c.plev_hpa[k]);
      if (k > 0 && !(c.plev_hpa[k] < c.plev_hpa[k - 1])) fail_usage("--plev: levels must decrease (surface first)");
    }
  }
  if (c.levels == Levels::hybrid && (c.hybrid_levels < 5 || c.hybrid_levels > 200))
    fail_usage("--hybrid-levels {}: must be 5..200", c.hybrid_levels);
  if (c.prefix.empty() || c.prefix.find('/') != std::string::npos) fail_usage("--prefix: a plain file-name prefix");
}

World::World(SynthConfig config) : config_(std::move(config)) {
  validate(config_);
  grid_ = geo::Grid::cam(config_.height, config_.width);
  plan();
  const size_t W = size_t(grid_.width());
  cos_m_.resize(modes_.size() * W);
  sin_m_.resize(modes_.size() * W);
  for (size_t k = 0; k < modes_.size(); ++k)
    for (size_t j = 0; j < W; ++j) {
      const double a = modes_[k].m * grid_.lon[j] * kDegToRad;
      cos_m_[k * W + j] = float(std::cos(a));
      sin_m_[k * W + j] = float(std::sin(a));
    }
}

void World::plan() {
  Rng rng(config_.seed);
  // Weather: seven travelling waves in each hemisphere's storm track, four weak tropical ones.
  for (double hemi : {1.0, -1.0})
    for (int k = 0; k < 7; ++k) {
      Mode m;
      m.m = rng.integer(3, 9);
      m.amp_pa = rng.uniform(250, 600);
      m.lat_c = hemi * rng.uniform(38, 58);
      m.lat_w = rng.uniform(9, 14);
      m.tilt = rng.uniform(-1.2, 1.2);
      m.phase = rng.uniform(0, 2 * kPi);
      const double c = rng.uniform(6, 13);  // eastward phase speed, m/s
      m.omega = c * m.m / (kEarthRadius * std::cos(m.lat_c * kDegToRad));
      modes_.push_back(m);
    }
  for (int k = 0; k < 4; ++k) {
    Mode m;
    m.m = rng.integer(2, 6);
    m.amp_pa = rng.uniform(60, 140);
    m.lat_c = rng.uniform(-8, 8);
    m.lat_w = 8;
    m.phase = rng.uniform(0, 2 * kPi);
    m.omega = -rng.uniform(4, 9) * m.m / kEarthRadius;  // westward
    modes_.push_back(m);
  }

  const double span_h = double(config_.steps) * config_.hours;
  const double floor_km = 0.75 * 180.0 / double(config_.height - 1) * kKmPerDeg;  // a model can't resolve less

  // Cyclones: genesis at 8..18 degrees, steered west then poleward and east (recurvature), 3..7 days.
  // A storm that would pass within 1500 km of an earlier one while both live is not planted.
  auto too_close = [&](const Cyclone& c) {
    for (const Cyclone& o : cyclones_) {
      const double from = std::max(c.t0_h, o.t0_h), to = std::min(c.t0_h + c.life_h, o.t0_h + o.life_h);
      for (double h = std::ceil(from); h <= to; h += 1.0) {
        const LatLon& a = c.track[std::min(size_t(h - c.t0_h), c.track.size() - 1)];
        const LatLon& b = o.track[std::min(size_t(h - o.t0_h), o.track.size() - 1)];
        if (great_circle_km(a.lat, a.lon, b.lat, b.lon) < 1500.0) return true;
      }
    }
    return false;
  };
  {
    const double max_life = 168, mean_life = 120;
    const double expected = config_.cyclones * (span_h + max_life) / mean_life;
    const int n = int(std::floor(expected + rng.uniform()));
    int id = 0;
    for (int s = 0; s < n; ++s) {
      Cyclone c;
      c.t0_h = rng.uniform(-max_life, span_h);
      c.life_h = rng.uniform(72, max_life);
      c.north = rng.chance(0.65);
      const double lat0 = rng.uniform(8, 18), lon0 = rng.uniform(0, 360);
      c.dp_peak = rng.uniform(2500, 7000);
      c.rmw_km = std::max(rng.uniform(40, 90), floor_km);
      c.holland_b = rng.uniform(1.2, 1.8);
      c.peak_phase = rng.uniform(0.4, 0.7);
      c.speed_east = rng.uniform(0.7, 1.3);
      c.speed_north = rng.uniform(0.7, 1.3);
      const double hemi = c.north ? 1 : -1;
      // Integrate the steering flow hourly; slow the poleward drift until the storm stays within 34 degrees.
      for (int attempt = 0; attempt < 12; ++attempt) {
        c.track.assign(1, LatLon{hemi * lat0, lon0});
        bool inside = true;
        for (int h = 1; h <= int(std::ceil(c.life_h)); ++h) {
          LatLon p = c.track.back();
          const double a = std::abs(p.lat);
          const double u = c.speed_east * (-5.0 + 0.7 * (a - 15.0));
          const double v = c.speed_north * (1.5 + 0.08 * (a - 8.0));
          p.lat += hemi * v * 3600.0 / (kKmPerDeg * 1000.0);
          p.lon = wrap360(p.lon + u * 3600.0 / (kKmPerDeg * 1000.0 * std::cos(p.lat * kDegToRad)));
          if (std::abs(p.lat) > 34.0) {
            inside = false;
            break;
          }
          c.track.push_back(p);
        }
        if (inside) break;
        c.speed_north *= 0.75;
      }
      if (double(c.track.size() - 1) < c.life_h) c.life_h = double(c.track.size() - 1);
      if (c.t0_h + c.life_h < 0 || c.t0_h > span_h) continue;  // never alive during the run
      if (too_close(c)) continue;                              // keep storms apart so each one's truth is its own
      c.id = ++id;
      cyclones_.push_back(std::move(c));
    }
  }
  // Rivers: from 20..30 degrees toward 42..55 degrees, eastward and poleward, 1.5..4 days.
  {
    const double max_life = 96, mean_life = 66;
    const double expected = config_.rivers * (span_h + max_life) / mean_life;
    const int n = int(std::floor(expected + rng.uniform()));
    int id = 0;
    for (int s = 0; s < n; ++s) {
      River r;
      r.t0_h = rng.uniform(-max_life, span_h);
      r.life_h = rng.uniform(36, max_life);
      r.north = rng.chance(0.55);
      r.lat0 = rng.uniform(20, 30);
      r.lon0 = rng.uniform(0, 360);
      r.lat1 = rng.uniform(42, 55);
      r.dlon = rng.uniform(20, 45);
      r.bend = rng.uniform(-6, 6);
      r.sigma_km = rng.uniform(150, 250);
      r.jet_ms = rng.uniform(16, 24);
      r.drift_east_ms = rng.uniform(5, 10);
      r.drift_north_ms = rng.uniform(0, 1);
      if (r.t0_h + r.life_h < 0 || r.t0_h > span_h) continue;
      r.id = ++id;
      rivers_.push_back(r);
    }
  }
}

std::vector<CycloneState> World::cyclones_at(double hours) const {
  std::vector<CycloneState> out;
  for (const Cyclone& c : cyclones_) {
    const double age = hours - c.t0_h;
    if (age < 0 || age > c.life_h) continue;
    CycloneState s;
    s.id = c.id;
    s.north = c.north;
    const size_t k = std::min(size_t(age), c.track.size() - 2);
    const double f = age - double(k);
    const LatLon a = c.track[k], b = c.track[k + 1];
    s.centre.lat = a.lat + f * (b.lat - a.lat);
    s.centre.lon = wrap360(a.lon + f * wrap180(b.lon - a.lon));
    s.move_north_ms = (b.lat - a.lat) * kKmPerDeg * 1000.0 / 3600.0;
    s.move_east_ms = wrap180(b.lon - a.lon) * kKmPerDeg * 1000.0 * std::cos(s.centre.lat * kDegToRad) / 3600.0;
    // Life cycle: 55 % of peak intensity at genesis and decay, peak at peak_phase of the life.
    const double tau = c.life_h > 0 ? age / c.life_h : 0.5;
    const double bump = tau < c.peak_phase ? std::sin(0.5 * kPi * tau / c.peak_phase)
                                           : std::cos(0.5 * kPi * (tau - c.peak_phase) / (1 - c.peak_phase));
    const double e = 0.55 + 0.45 * bump;
    s.dp_pa = c.dp_peak * e;
    const double floor_km = 0.75 * 180.0 / double(config_.height - 1) * kKmPerDeg;
    s.rmw_km = std::max(c.rmw_km * (1.25 - 0.4 * e), floor_km);  // storms contract as they deepen
    s.holland_b = c.holland_b;
    s.vmax_ms = holland_wind(s.rmw_km * 1000.0, s.dp_pa, s.rmw_km * 1000.0, s.holland_b, s.centre.lat);
    out.push_back(s);
  }
  return out;
}

std::vector<RiverState> World::rivers_at(double hours) const {
  std::vector<RiverState> out;
  for (const River& r : rivers_) {
    const double age = hours - r.t0_h;
    if (age < 0 || age > r.life_h) continue;
    const double tau = age / r.life_h;
    RiverState s;
    s.id = r.id;
    s.north = r.north;
    s.strength = smoothstep(0.0, 0.2, tau) * (1.0 - smoothstep(0.8, 1.0, tau));
    s.sigma_km = r.sigma_km;
    s.jet_ms = r.jet_ms;
    const double hemi = r.north ? 1 : -1;
    const double dlat = hemi * r.drift_north_ms * age * 3600.0 / (kKmPerDeg * 1000.0);
    const double mid = 0.5 * (r.lat0 + r.lat1);
    const double dlon = r.drift_east_ms * age * 3600.0 / (kKmPerDeg * 1000.0 * std::cos(mid * kDegToRad));
    // Quadratic Bezier from the source to the poleward end, bent sideways by `bend` degrees.
    const LatLon p0{hemi * r.lat0 + dlat, r.lon0 + dlon};
    const LatLon p2{hemi * r.lat1 + dlat, r.lon0 + dlon + r.dlon};
    const LatLon p1{0.5 * (p0.lat + p2.lat) + hemi * 0.5 * r.bend, 0.5 * (p0.lon + p2.lon) - r.bend};
    constexpr int kPoints = 41;
    for (int k = 0; k < kPoints; ++k) {
      const double t = double(k) / (kPoints - 1);
      LatLon p;
      p.lat = (1 - t) * (1 - t) * p0.lat + 2 * (1 - t) * t * p1.lat + t * t * p2.lat;
      p.lon = (1 - t) * (1 - t) * p0.lon + 2 * (1 - t) * t * p1.lon + t * t * p2.lon;  // unwrapped
      s.axis.push_back(p);
    }
    for (int k = 1; k < kPoints; ++k)
      s.length_km += great_circle_km(s.axis[size_t(k - 1)].lat, s.axis[size_t(k - 1)].lon, s.axis[size_t(k)].lat,
                                     s.axis[size_t(k)].lon);
    for (auto& p : s.axis) p.lon = wrap360(p.lon);
    out.push_back(std::move(s));
  }
  return out;
}

void World::generate(int64_t step, StepFields& out) const {
  const int64_t H = grid_.height(), W = grid_.width();
  const size_t HW = size_t(H * W);
  const double hours = hours_at(step);
  const double seconds = hours * 3600.0;
  const double doy = std::fmod(start_day_of_year(config_) + hours / 24.0, 365.0);
  const double lat_s = 4.0 * std::sin(2 * kPi * (doy - 80.0) / 365.0);  // thermal equator follows the sun

  if (out.fields.numel() != int64_t(kChannelCount) * H * W) out.fields = Tensor::empty({kChannelCount, H, W});
  if (out.labels.numel() != H * W) out.labels = Tensor::empty({H, W});
  for (Tensor* t : {&out.u200, &out.v200, &out.lambda})
    if (t->numel() != H * W) *t = Tensor::empty({H, W});
  Planes o = planes_of(out, HW);
  float* const* F = o.F;
  float* LAB = o.LAB;
  const size_t K = modes_.size();

  // 1. Background climate and weather, row by row.
#pragma omp parallel
  {
    ModeRow mr;
    std::vector<float> P(static_cast<size_t>(W)), dPdl(static_cast<size_t>(W)), dPdp(static_cast<size_t>(W));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < H; ++i) {
      const double lat = grid_.lat[size_t(i)];
      const RowConstants rc = row_constants(lat, lat_s);
      mode_row(modes_, lat, seconds, mr);
      std::fill(P.begin(), P.end(), 0.0f);
      std::fill(dPdl.begin(), dPdl.end(), 0.0f);
      std::fill(dPdp.begin(), dPdp.end(), 0.0f);
      // P' = sum_k E cos(m lon + ph): separable, so each mode is two row-by-column products.
      for (size_t k = 0; k < K; ++k) {
        if (!mr.live[k]) continue;
        const float* cm = cos_m_.data() + k * size_t(W);
        const float* sm = sin_m_.data() + k * size_t(W);
        const float a = mr.A[k], b = mr.B[k], c = mr.C[k], d = mr.D[k], m = mr.mk[k];
        for (int64_t j = 0; j < W; ++j) {
          P[size_t(j)] += a * cm[j] - b * sm[j];
          dPdl[size_t(j)] -= m * (a * sm[j] + b * cm[j]);
          dPdp[size_t(j)] += c * cm[j] - d * sm[j];
        }
      }
      for (int64_t j = 0; j < W; ++j)
        background_cell(rc, P[size_t(j)], dPdl[size_t(j)], dPdp[size_t(j)], o, size_t(i * W + j));
    }
  }

  // 2. Cyclones: Holland vortex, warm core, moist core, rain; label where the vortex's own surface
  // wind reaches gale force.
  const double row_deg = 180.0 / double(H - 1), col_deg = 360.0 / double(W);
  out.cyclones.clear();
  for (const CycloneState& cs : cyclones_at(hours)) {
    const double lat_c = cs.centre.lat, lon_c = cs.centre.lon;
    const double reach_deg = kCycloneOuterKm / kKmPerDeg;
    const int64_t i0 = std::max<int64_t>(0, int64_t(std::floor((lat_c - reach_deg + 90.0) / row_deg)));
    const int64_t i1 = std::min<int64_t>(H - 1, int64_t(std::ceil((lat_c + reach_deg + 90.0) / row_deg)));
    const double cos_edge = std::max(0.2, std::cos((std::abs(lat_c) + reach_deg) * kDegToRad));
    const int64_t nj = std::min<int64_t>((W - 1) / 2, int64_t(std::ceil(reach_deg / cos_edge / col_deg)) + 1);
    const int64_t jc = int64_t(std::lround(lon_c / col_deg));
#pragma omp parallel for schedule(static)
    for (int64_t i = i0; i <= i1; ++i) {
      const double lat = grid_.lat[size_t(i)];
      const double coslat = std::cos(lat * kDegToRad);
      for (int64_t dj = -nj; dj <= nj; ++dj) {
        const int64_t j = ((jc + dj) % W + W) % W;
        const double lon = grid_.lon[size_t(j)];
        const double r_km = great_circle_km(lat_c, lon_c, lat, lon);
        if (r_km > kCycloneOuterKm) continue;
        cyclone_cell(cs, lat, double(jc + dj) * col_deg - lon_c, coslat, r_km, o, size_t(i * W + j));
      }
    }
    CycloneTruth t;
    t.state = cs;
    out.cyclones.push_back(t);
  }

  // 3. Rivers: a moist low-level jet along the axis. The strongest filament of each cell is kept
  // for the label, which needs the final fields (step 5).
  out.rivers.clear();
  std::vector<float>& ar_w = out.river_weight;
  std::vector<int>& ar_id = out.river_id;
  ar_w.assign(HW, 0.0f);
  ar_id.assign(HW, 0);
  for (const RiverState& rs : rivers_at(hours)) {
    const RiverGeometry geo = river_geometry(rs);
    const int64_t i0 = std::max<int64_t>(0, int64_t(std::floor((geo.lat_lo - geo.reach + 90.0) / row_deg)));
    const int64_t i1 = std::min<int64_t>(H - 1, int64_t(std::ceil((geo.lat_hi + geo.reach + 90.0) / row_deg)));
    const int64_t j0 = int64_t(std::floor((rs.axis[0].lon + geo.west - geo.pad) / col_deg));
    const int64_t j1 = int64_t(std::ceil((rs.axis[0].lon + geo.east + geo.pad) / col_deg));
#pragma omp parallel
    {
      std::vector<int64_t> near;  // segments within reach of this row
#pragma omp for schedule(static)
      for (int64_t i = i0; i <= i1; ++i) {
        const double lat = grid_.lat[size_t(i)];
        river_segments_near(geo, lat, near);
        if (near.empty()) continue;
        for (int64_t jj = j0; jj <= std::min(j1, j0 + W - 1); ++jj) {
          const int64_t j = ((jj % W) + W) % W;
          const double x = double(jj) * col_deg - rs.axis[0].lon;  // the cell, east of the axis start
          river_cell(geo, near, lat, x, o, size_t(i * W + j), ar_w, ar_id);
        }
      }
    }
    RiverTruth t;
    t.state = rs;
    out.rivers.push_back(t);
  }

  // 4. What CAM5 writes, from the state: moisture, pressure and heights.
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < H * W; ++n) derive_cell(o, size_t(n));

    // 5. River labels: inside a filament's footprint, where its vapour transport is that of a river.
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) {
      const size_t n = size_t(i * W + j);
      if (ar_w[n] >= kRiverFootprintWeight && LAB[n] != float(kCyclone) && ivt_at(out, i, j) >= kRiverIvtThreshold)
        LAB[n] = float(-ar_id[n]);  // counted per river below, then made class 2
    }

  // 6. Truth: cyclone minima and maxima on the grid; river cells, areas, centroids and IVT.
  const std::vector<double> areas = grid_.row_areas();
  for (CycloneTruth& t : out.cyclones) {
    t.psl_min_pa = 1e30;
    const double lat_c = t.state.centre.lat, lon_c = t.state.centre.lon;
    const double reach_deg = 500.0 / kKmPerDeg + row_deg;
    const int64_t i0 = std::max<int64_t>(0, int64_t(std::floor((lat_c - reach_deg + 90.0) / row_deg)));
    const int64_t i1 = std::min<int64_t>(H - 1, int64_t(std::ceil((lat_c + reach_deg + 90.0) / row_deg)));
    const double cos_edge = std::max(0.2, std::cos((std::abs(lat_c) + reach_deg) * kDegToRad));
    const int64_t nj = std::min<int64_t>((W - 1) / 2, int64_t(std::ceil(reach_deg / cos_edge / col_deg)) + 1);
    const int64_t jc = int64_t(std::lround(lon_c / col_deg));
    for (int64_t i = i0; i <= i1; ++i)
      for (int64_t dj = -nj; dj <= nj; ++dj) {
        const int64_t j = ((jc + dj) % W + W) % W;
        const double lat = grid_.lat[size_t(i)], lon = grid_.lon[size_t(j)];
        const double r = great_circle_km(lat_c, lon_c, lat, lon);
        const size_t n = size_t(i * W + j);
        if (r <= std::max(300.0, 1.5 * row_deg * kKmPerDeg)) t.psl_min_pa = std::min(t.psl_min_pa, double(F[kPSL][n]));
        if (r <= 500.0) t.wind_max_ms = std::max(t.wind_max_ms, std::hypot(double(F[kUBOT][n]), double(F[kVBOT][n])));
        if (r <= kCycloneOuterKm && LAB[n] == float(kCyclone)) ++t.cells;
      }
  }
  // One pass over the cells for every river at once; then the rivers become class 2.
  std::vector<std::array<double, 3>> xyz(out.rivers.size(), {0.0, 0.0, 0.0});
  auto river_index = [&](int id) {
    for (size_t r = 0; r < out.rivers.size(); ++r)
      if (out.rivers[r].state.id == id) return r;
    return out.rivers.size();
  };
  for (int64_t i = 0; i < H; ++i) {
    const double a = areas[size_t(i)];
    const double la = grid_.lat[size_t(i)] * kDegToRad;
    for (int64_t j = 0; j < W; ++j) {
      const size_t n = size_t(i * W + j);
      if (LAB[n] >= 0) continue;
      const size_t r = river_index(int(-LAB[n]));
      LAB[n] = float(kRiver);
      RiverTruth& t = out.rivers[r];
      ++t.cells;
      t.area_km2 += a / 1e6;
      const double lo = grid_.lon[size_t(j)] * kDegToRad;
      xyz[r][0] += a * std::cos(la) * std::cos(lo);
      xyz[r][1] += a * std::cos(la) * std::sin(lo);
      xyz[r][2] += a * std::sin(la);
      t.ivt_max = std::max(t.ivt_max, ivt_at(out, i, j));
    }
  }
  for (size_t r = 0; r < out.rivers.size(); ++r) {
    RiverTruth& t = out.rivers[r];
    if (t.cells == 0) continue;
    t.centroid.lat = std::atan2(xyz[r][2], std::hypot(xyz[r][0], xyz[r][1])) / kDegToRad;
    t.centroid.lon = wrap360(std::atan2(xyz[r][1], xyz[r][0]) / kDegToRad);
  }
}

void World::generate_columns(int64_t step, const geo::UnstructuredGrid& cols, StepFields& out) const {
  const int64_t N = cols.size();
  const size_t NN = size_t(N);
  const double hours = hours_at(step);
  const double seconds = hours * 3600.0;
  const double doy = std::fmod(start_day_of_year(config_) + hours / 24.0, 365.0);
  const double lat_s = 4.0 * std::sin(2 * kPi * (doy - 80.0) / 365.0);
  if (out.fields.numel() != int64_t(kChannelCount) * N) out.fields = Tensor::empty({kChannelCount, N});
  if (out.labels.numel() != N) out.labels = Tensor::empty({N});
  for (Tensor* t : {&out.u200, &out.v200, &out.lambda})
    if (t->numel() != N) *t = Tensor::empty({N});
  Planes o = planes_of(out, NN);
  float* const* F = o.F;
  float* LAB = o.LAB;
  const size_t K = modes_.size();

  // 1. Background: the same waves, summed at each column's own position.
#pragma omp parallel
  {
    ModeRow mr;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const double lat = cols.lat[size_t(n)], lon = cols.lon[size_t(n)];
      const RowConstants rc = row_constants(lat, lat_s);
      mode_row(modes_, lat, seconds, mr);
      float p = 0, dpdl = 0, dpdp = 0;
      for (size_t k = 0; k < K; ++k) {
        if (!mr.live[k]) continue;
        const double a = modes_[k].m * lon * kDegToRad;
        const float cm = float(std::cos(a)), sm = float(std::sin(a));
        p += mr.A[k] * cm - mr.B[k] * sm;
        dpdl -= mr.mk[k] * (mr.A[k] * sm + mr.B[k] * cm);
        dpdp += mr.C[k] * cm - mr.D[k] * sm;
      }
      background_cell(rc, p, dpdl, dpdp, o, size_t(n));
    }
  }

  // 2. Cyclones.
  out.cyclones.clear();
  for (const CycloneState& cs : cyclones_at(hours)) {
    const double lat_c = cs.centre.lat, lon_c = cs.centre.lon;
    const double reach_deg = kCycloneOuterKm / kKmPerDeg;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const double lat = cols.lat[size_t(n)], lon = cols.lon[size_t(n)];
      if (std::abs(lat - lat_c) > reach_deg) continue;
      const double r_km = great_circle_km(lat_c, lon_c, lat, lon);
      if (r_km > kCycloneOuterKm) continue;
      cyclone_cell(cs, lat, wrap180(lon - lon_c), std::cos(lat * kDegToRad), r_km, o, size_t(n));
    }
    CycloneTruth t;
    t.state = cs;
    out.cyclones.push_back(t);
  }

  // 3. Rivers.
  out.rivers.clear();
  std::vector<float>& ar_w = out.river_weight;
  std::vector<int>& ar_id = out.river_id;
  ar_w.assign(NN, 0.0f);
  ar_id.assign(NN, 0);
  for (const RiverState& rs : rivers_at(hours)) {
    const RiverGeometry geo = river_geometry(rs);
#pragma omp parallel
    {
      std::vector<int64_t> near;
#pragma omp for schedule(static)
      for (int64_t n = 0; n < N; ++n) {
        const double lat = cols.lat[size_t(n)];
        if (lat < geo.lat_lo - geo.reach || lat > geo.lat_hi + geo.reach) continue;
        // East of the axis start, in the window the lat-lon sweep covers.
        const double lo = geo.west - geo.pad;
        const double x = lo + wrap360(cols.lon[size_t(n)] - rs.axis[0].lon - lo);
        if (x > geo.east + geo.pad) continue;
        river_segments_near(geo, lat, near);
        if (near.empty()) continue;
        river_cell(geo, near, lat, x, o, size_t(n), ar_w, ar_id);
      }
    }
    RiverTruth t;
    t.state = rs;
    out.rivers.push_back(t);
  }

  // 4. Derived fields; 5. river labels.
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) derive_cell(o, size_t(n));
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n)
    if (ar_w[size_t(n)] >= kRiverFootprintWeight && LAB[n] != float(kCyclone) &&
        column_ivt(out, NN, size_t(n), ivt_levels()) >= kRiverIvtThreshold)
      LAB[n] = float(-ar_id[size_t(n)]);

  // 6. Truth, as on the lat-lon grid (radii in km, the same row spacing for the PSL minimum).
  const double row_deg = 180.0 / double(config_.height - 1);
  for (CycloneTruth& t : out.cyclones) {
    t.psl_min_pa = 1e30;
    const double lat_c = t.state.centre.lat, lon_c = t.state.centre.lon;
    for (int64_t n = 0; n < N; ++n) {
      if (std::abs(cols.lat[size_t(n)] - lat_c) > kCycloneOuterKm / kKmPerDeg) continue;
      const double r = great_circle_km(lat_c, lon_c, cols.lat[size_t(n)], cols.lon[size_t(n)]);
      if (r <= std::max(300.0, 1.5 * row_deg * kKmPerDeg)) t.psl_min_pa = std::min(t.psl_min_pa, double(F[kPSL][n]));
      if (r <= 500.0) t.wind_max_ms = std::max(t.wind_max_ms, std::hypot(double(F[kUBOT][n]), double(F[kVBOT][n])));
      if (r <= kCycloneOuterKm && LAB[n] == float(kCyclone)) ++t.cells;
    }
  }
  std::vector<std::array<double, 3>> xyz(out.rivers.size(), {0.0, 0.0, 0.0});
  for (int64_t n = 0; n < N; ++n) {
    if (LAB[n] >= 0) continue;
    size_t r = 0;
    while (r < out.rivers.size() && out.rivers[r].state.id != int(-LAB[n])) ++r;
    LAB[n] = float(kRiver);
    if (r == out.rivers.size()) continue;
    RiverTruth& t = out.rivers[r];
    const double a = cols.area_m2[size_t(n)];
    const double la = cols.lat[size_t(n)] * kDegToRad, lo = cols.lon[size_t(n)] * kDegToRad;
    ++t.cells;
    t.area_km2 += a / 1e6;
    xyz[r][0] += a * std::cos(la) * std::cos(lo);
    xyz[r][1] += a * std::cos(la) * std::sin(lo);
    xyz[r][2] += a * std::sin(la);
    t.ivt_max = std::max(t.ivt_max, column_ivt(out, NN, size_t(n), ivt_levels()));
  }
  for (size_t r = 0; r < out.rivers.size(); ++r) {
    RiverTruth& t = out.rivers[r];
    if (t.cells == 0) continue;
    t.centroid.lat = std::atan2(xyz[r][2], std::hypot(xyz[r][0], xyz[r][1])) / kDegToRad;
    t.centroid.lon = wrap360(std::atan2(xyz[r][1], xyz[r][0]) / kDegToRad);
  }
}

void World::columns_at_pressure(const StepFields& s, const std::vector<double>& p_pa, Tensor& q, Tensor& u,
                                Tensor& v) const {
  const int64_t H = grid_.height(), W = grid_.width(), L = int64_t(p_pa.size());
  const size_t HW = size_t(H * W);
  q = Tensor::empty({L, H, W});
  u = Tensor::empty({L, H, W});
  v = Tensor::empty({L, H, W});
  const float* F = s.fields.data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < H; ++i)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t j = 0; j < W; ++j) {
        const size_t n = size_t(i * W + j), o = size_t(l) * HW + n;
        const double ps = F[kPS * HW + n], p = p_pa[size_t(l)];
        q[int64_t(o)] = float(q_at(p, ps, F[kQREFHT * HW + n], s.lambda[int64_t(n)]));
        u[int64_t(o)] = float(wind_at(p, ps, F[kUBOT * HW + n], F[kU850 * HW + n], s.u200[int64_t(n)]));
        v[int64_t(o)] = float(wind_at(p, ps, F[kVBOT * HW + n], F[kV850 * HW + n], s.v200[int64_t(n)]));
      }
}

void World::columns_at_hybrid(const StepFields& s, const std::vector<double>& hyam, const std::vector<double>& hybm,
                              double p0, Tensor& q, Tensor& u, Tensor& v) const {
  const int64_t H = grid_.height(), W = grid_.width(), L = int64_t(hyam.size());
  const size_t HW = size_t(H * W);
  q = Tensor::empty({L, H, W});
  u = Tensor::empty({L, H, W});
  v = Tensor::empty({L, H, W});
  const float* F = s.fields.data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < H; ++i)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t j = 0; j < W; ++j) {
        const size_t n = size_t(i * W + j), o = size_t(l) * HW + n;
        const double ps = F[kPS * HW + n];
        const double p = hyam[size_t(l)] * p0 + hybm[size_t(l)] * ps;
        q[int64_t(o)] = float(q_at(p, ps, F[kQREFHT * HW + n], s.lambda[int64_t(n)]));
        u[int64_t(o)] = float(wind_at(p, ps, F[kUBOT * HW + n], F[kU850 * HW + n], s.u200[int64_t(n)]));
        v[int64_t(o)] = float(wind_at(p, ps, F[kVBOT * HW + n], F[kV850 * HW + n], s.v200[int64_t(n)]));
      }
}

const std::vector<double>& World::ivt_levels() const {
  static const std::vector<double> kDefault = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200};
  return config_.levels == Levels::pressure ? config_.plev_hpa : kDefault;
}

double World::ivt_at(const StepFields& s, int64_t i, int64_t j) const {
  return column_ivt(s, size_t(grid_.size()), size_t(i * grid_.width() + j), ivt_levels());
}

}  // namespace climseg::synth
