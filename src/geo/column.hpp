// Vertical integrals of atmospheric columns: integrated vapour transport IVT = (1/g) ∫ q v dp and
// integrated water vapour IWV = (1/g) ∫ q dp, on pressure levels or on CAM's hybrid sigma-pressure
// levels, by the trapezoid rule in pressure.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace climseg::geo {

// The vertical coordinate of a column stack (K levels, any order: sorted by pressure internally).
struct VerticalLevels {
  // Pressure levels: p_k in Pa.
  std::vector<double> pressure_pa;
  // Hybrid levels (CAM): p_k(x) = hyam_k · p0 + hybm_k · PS(x), with PS in Pa.
  std::vector<double> hyam, hybm;
  double p0 = 100000.0;

  bool hybrid() const { return !hyam.empty(); }
  int64_t count() const { return static_cast<int64_t>(hybrid() ? hyam.size() : pressure_pa.size()); }
  static VerticalLevels pressure(std::vector<double> pa);
  static VerticalLevels cam_hybrid(std::vector<double> hyam, std::vector<double> hybm, double p0);
};

// Inputs are (K, N) level-major stacks of N = H·W points: q specific humidity (kg kg-1), u and v
// winds (m s-1). `ps` (N, Pa) is required for hybrid levels; on pressure levels it is optional and,
// when given, levels below the surface (p > PS) are left out of that column. `valid` (K, N, 1/0)
// optionally marks values to leave out (fill values). A column with fewer than two usable levels
// integrates to 0. Outputs are N values each, kg m-1 s-1; ivt = |(ivt_u, ivt_v)|.
struct IvtOutput {
  std::span<float> ivt_u, ivt_v, ivt;
};
void integrated_vapour_transport(const VerticalLevels& levels, std::span<const float> q, std::span<const float> u,
                                 std::span<const float> v, std::span<const float> ps, std::span<const float> valid,
                                 IvtOutput out);

// IWV = (1/g) ∫ q dp in kg m-2 (the same trapezoid rule and level handling).
void integrated_water_vapour(const VerticalLevels& levels, std::span<const float> q, std::span<const float> ps,
                             std::span<const float> valid, std::span<float> out);

}  // namespace climseg::geo
