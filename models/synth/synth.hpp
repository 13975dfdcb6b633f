// Synthetic CAM5-like climate: a background climate with travelling weather, planted tropical
// cyclones (Holland 1980 vortices) and atmospheric rivers, with the truth of where they are.
// Every step is a pure function of (config, step), so files can be made in any order, on any rank.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "geo/grid.hpp"
#include "geo/unstructured.hpp"

namespace climseg::synth {

// The 16 CAM5 channels of ClimateNet/DeepCAM, in DeepCAM's channel order.
enum Channel {
  kTMQ,
  kU850,
  kV850,
  kUBOT,
  kVBOT,
  kQREFHT,
  kPS,
  kPSL,
  kT200,
  kT500,
  kPRECT,
  kTS,
  kTREFHT,
  kZ1000,
  kZ200,
  kZBOT,
  kChannelCount
};

struct ChannelInfo {
  const char* name;
  const char* units;  // as CAM5 writes them
  const char* long_name;
  const char* standard_name;  // CF
};
const std::array<ChannelInfo, kChannelCount>& cam5_channels();

// Class ids of LABELS (ClimateNet) and of the waves file.
inline constexpr int kBackground = 0, kCyclone = 1, kRiver = 2, kExtremeWaves = 3;

enum class Levels { none, pressure, hybrid };

struct SynthConfig {
  int64_t height = 192;  // CAM finite-volume grid: latitudes -90..90 inclusive
  int64_t width = 288;   // longitudes from 0
  int64_t steps = 16;
  int64_t steps_per_file = 8;
  double hours = 3.0;  // between steps (CAM5 h2: 3-hourly)
  uint64_t seed = 1;
  std::string calendar = "noleap";  // noleap or standard
  int start_year = 2000, start_month = 1, start_day = 1, start_hour = 0;
  bool lat_descending = false;
  Levels levels = Levels::none;
  std::vector<double> plev_hpa = {1000, 925, 850, 700, 600, 500, 400, 300, 250, 200};
  int hybrid_levels = 30;
  bool waves = false;
  double cyclones = 4.0;  // mean number of cyclones alive at any time (whole globe)
  double rivers = 4.0;    // mean number of rivers alive at any time
  int deflate_level = 1;
  std::string prefix = "synth";
  // A cubed sphere ("ne30np4", "ne30pg2"): the world is sampled at its columns and written as CAM-SE
  // column files (lat(ncol), lon(ncol)); height x width is then the lat-lon grid of the same spacing.
  std::string columns;
};

// The lat-lon size (height, width) whose spacing matches a cubed sphere's (ne30np4: 181x360).
std::pair<int64_t, int64_t> latlon_size_of(const std::string& cubed_sphere);

// Checks ranges; throws UsageError naming the option.
void validate(const SynthConfig& config);

struct LatLon {
  double lat = 0, lon = 0;  // degrees; lon in [0, 360)
};

// A planted cyclone at one time.
struct CycloneState {
  int id = 0;
  bool north = true;
  LatLon centre;
  double dp_pa = 0;        // central pressure deficit
  double rmw_km = 0;       // radius of maximum wind
  double holland_b = 1.5;  // Holland's shape parameter
  double vmax_ms = 0;      // maximum gradient wind of the profile
  double move_east_ms = 0, move_north_ms = 0;
};

// A planted atmospheric river at one time.
struct RiverState {
  int id = 0;
  bool north = true;
  std::vector<LatLon> axis;  // from the subtropical source to the poleward end
  double sigma_km = 200;     // Gaussian half-width across the axis
  double strength = 1;       // 0..1 life-cycle envelope
  double jet_ms = 18;        // low-level jet on the axis at full strength
  double length_km = 0;
};

// Truth of one step, as written to the CSV files.
struct CycloneTruth {
  CycloneState state;
  double psl_min_pa = 0;   // smallest PSL on the grid within 300 km of the centre
  double wind_max_ms = 0;  // largest UBOT/VBOT speed on the grid within 500 km
  int64_t cells = 0;       // labelled cells
};
struct RiverTruth {
  RiverState state;
  LatLon centroid;  // of the labelled cells
  int64_t cells = 0;
  double area_km2 = 0;
  double ivt_max = 0;  // kg m-1 s-1 on the labelled cells, from the column model
};

// One generated step on the canonical grid.
struct StepFields {
  Tensor fields;  // (16, H, W) physical values in CAM5 units
  Tensor labels;  // (H, W) 0 background, 1 cyclone, 2 river
  // Anchors of the column model used for 3-D output: winds at 200 hPa and the moisture-profile
  // exponent lambda (q = q_s (p / p_s)^lambda).
  Tensor u200, v200, lambda;  // (H, W)
  std::vector<CycloneTruth> cyclones;
  std::vector<RiverTruth> rivers;
  // Scratch reused from step to step: the strongest river filament of each cell (H*W).
  std::vector<float> river_weight;
  std::vector<int> river_id;
};

class World {
 public:
  explicit World(SynthConfig config);
  const SynthConfig& config() const { return config_; }
  const geo::Grid& grid() const { return grid_; }
  double hours_at(int64_t step) const { return double(step) * config_.hours; }

  std::vector<CycloneState> cyclones_at(double hours) const;
  std::vector<RiverState> rivers_at(double hours) const;
  void generate(int64_t step, StepFields& out) const;
  // The same step sampled at unstructured columns (cubed-sphere nodes, cell centres): fields (16, N),
  // labels and anchors (N), truth as on the lat-lon grid (river areas from the columns' cell areas).
  // The world's own lat-lon grid (config height, width) still sets the resolution-dependent parts
  // (the smallest radius of maximum wind), so give it the lat-lon grid of the columns' spacing.
  void generate_columns(int64_t step, const geo::UnstructuredGrid& columns, StepFields& out) const;

  // Column model: q, u, v at pressures p (Pa) given per level; (L, H, W) each.
  void columns_at_pressure(const StepFields& s, const std::vector<double>& p_pa, Tensor& q, Tensor& u, Tensor& v) const;
  // On CAM hybrid levels p = hyam * P0 + hybm * PS.
  void columns_at_hybrid(const StepFields& s, const std::vector<double>& hyam, const std::vector<double>& hybm,
                         double p0, Tensor& q, Tensor& u, Tensor& v) const;
  // IVT magnitude (kg m-1 s-1) of one cell from the column model on the configured pressure levels
  // (trapezoid in p from the highest pressure level to the lowest), as a detector would compute it.
  double ivt_at(const StepFields& s, int64_t i, int64_t j) const;

  struct Mode {
    int m = 4;                      // zonal wavenumber
    double amp_pa = 500;            // sea-level-pressure amplitude
    double lat_c = 45, lat_w = 12;  // Gaussian latitude envelope (degrees)
    double tilt = 0;                // phase change per radian of latitude
    double phase = 0;
    double omega = 0;  // rad/s, positive eastward
  };
  struct Cyclone {
    int id = 0;
    bool north = true;
    double t0_h = 0, life_h = 0;
    std::vector<LatLon> track;  // hourly from t0
    double dp_peak = 4000, rmw_km = 60, holland_b = 1.5, peak_phase = 0.5;
    double speed_east = 0, speed_north = 0;  // scale factors of the steering flow
  };
  struct River {
    int id = 0;
    bool north = true;
    double t0_h = 0, life_h = 0;
    double lat0 = 25, lon0 = 0, lat1 = 50, dlon = 30, bend = 0;
    double sigma_km = 200, jet_ms = 18, drift_east_ms = 7, drift_north_ms = 0.5;
  };
  const std::vector<Mode>& modes() const { return modes_; }
  const std::vector<Cyclone>& planned_cyclones() const { return cyclones_; }
  const std::vector<River>& planned_rivers() const { return rivers_; }

 private:
  void plan();
  const std::vector<double>& ivt_levels() const;  // hPa, surface first
  SynthConfig config_;
  geo::Grid grid_;
  std::vector<Mode> modes_;
  std::vector<Cyclone> cyclones_;
  std::vector<River> rivers_;
  std::vector<float> cos_m_, sin_m_;  // (modes, W) cos(m lon), sin(m lon)
};

// Physical constants of the generator.
inline constexpr double kGravity = 9.80665;   // m s-2
inline constexpr double kRdry = 287.04;       // J kg-1 K-1
inline constexpr double kOmega = 7.292e-5;    // s-1
inline constexpr double kRhoAir = 1.15;       // kg m-3, boundary-layer air in the tropics
inline constexpr double kLabelWindMs = 17.0;  // cyclone label: the vortex's own surface wind (gale force)
// River label: cells of a filament's footprint (weight = envelope x along-axis taper x across-axis
// Gaussian at least this) where the column's IVT reaches the usual river threshold.
inline constexpr double kRiverFootprintWeight = 0.25;
inline constexpr double kRiverIvtThreshold = 250.0;  // kg m-1 s-1
inline constexpr double kWavesExtremeM = 6.0;        // extreme-waves label: hs at or above

// Saturation specific humidity (kg/kg) at temperature T (K) and pressure p (Pa), Bolton (1980).
double qsat(double t_k, double p_pa);

}  // namespace climseg::synth
