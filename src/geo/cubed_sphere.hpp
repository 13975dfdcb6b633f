// The cubed-sphere grids of CAM-SE and E3SM, generated: the GLL nodes of the spectral elements
// ("ne30np4": the `ncol` columns of the dynamics grid) and the finite-volume physics cells ("ne30pg2").
// Equiangular gnomonic cube with faces centred on (0°, 0°), (0°, 90°E), ..., and the poles, as HOMME's
// default map: element edges and GLL points are evenly spaced in the face's central angles.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "geo/unstructured.hpp"

namespace climseg::geo {

struct CubedSphereSpec {
  int ne = 30;               // elements along a cube edge
  int np = 4;                // GLL points along an element edge (np grids), or
  int pg = 0;                // finite-volume cells along an element edge (pg grids; np ignored)
  std::string name() const;  // "ne30np4", "ne30pg2"
  // Columns: 6 ne² (np − 1)² + 2 for np grids, 6 ne² pg² for pg grids.
  int64_t columns() const;
};

// "ne30np4", "ne120np4", "ne30pg2", "ne4pg3"; nullopt when `name` is not one.
std::optional<CubedSphereSpec> parse_cubed_sphere(const std::string& name);

// Gauss-Lobatto-Legendre points on [−1, 1] (np of them, ascending; np 2..16).
std::vector<double> gll_points(int np);

// Node positions of an np grid, shared edge and corner nodes once, ordered face by face, element by
// element (a canonical order, not HOMME's space-filling-curve order).
void cubed_sphere_nodes(int ne, int np, std::vector<double>& lat, std::vector<double>& lon);

// The grid itself: nodes (np: from_nodes, Voronoi cells) or cells with their four corners (pg:
// from_cells, centres at the cells' equiangular middles).
UnstructuredGrid cubed_sphere_grid(const CubedSphereSpec& spec);

// Cell centres and corners (4 per cell) of a pg grid.
void cubed_sphere_cells(int ne, int pg, std::vector<double>& lat, std::vector<double>& lon,
                        std::vector<double>& corner_lat, std::vector<double>& corner_lon);

}  // namespace climseg::geo
