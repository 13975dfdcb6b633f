// Unstructured grids and remapping weights in files: SCRIP grid files (grid_center_lat,
// grid_corner_lat, grid_imask, ...), UGRID meshes (mesh_topology, face_node_connectivity), CAM-SE /
// E3SM column files (lat(ncol), lon(ncol)); SCRIP weights files as CDO and NCO read them
// (src_address, dst_address, remap_matrix; `cdo remap,GRID,WEIGHTS`).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "geo/remap.hpp"
#include "geo/unstructured.hpp"

namespace climseg::io {

// How a file lays out unstructured columns, as recognised by detect_column_layout.
struct ColumnLayout {
  enum class Kind { ncol, scrip, ugrid };
  Kind kind = Kind::ncol;
  std::string dimension;         // the column dimension of data variables ("ncol", "grid_size", "nMesh2_face")
  std::string lat_var, lon_var;  // column positions (ncol) or cell centres (SCRIP, UGRID face_x/face_y)
  int64_t columns = 0;
  std::string description;  // "CAM-SE columns (ne30np4)", "SCRIP grid", "UGRID mesh ..."
};

// The unstructured layout of an open file, or nullopt when it has none (a lat-lon file, say).
// ncol: a dimension named ncol (or any dimension) with 1-D latitude and longitude variables on it
// and no lat-lon axes; SCRIP: grid_center_lat/lon and grid_corner_lat/lon with grid_rank 1; UGRID: a
// variable with cf_role = "mesh_topology" whose face_node_connectivity and node coordinates exist.
std::optional<ColumnLayout> detect_column_layout(const std::filesystem::path& path);

// The grid of an unstructured file: corners from a SCRIP or UGRID file; positions only from an ncol
// file (Voronoi cells), unless `scrip_grid` names a SCRIP grid file of the same columns, whose
// corners are then used. Throws Error naming the file and variable when something does not fit.
geo::UnstructuredGrid read_unstructured_grid(const std::filesystem::path& path,
                                             const std::filesystem::path& scrip_grid = {});

// The column positions of an unstructured file in degrees, as the file holds them (its longitude
// convention kept): lat_var and lon_var of its layout. Outputs on the native columns copy them.
std::pair<std::vector<double>, std::vector<double>> read_column_positions(const std::filesystem::path& path);

// A SCRIP grid file of `grid` (grid_dims, grid_center_lat/lon, grid_imask, grid_corner_lat/lon in
// degrees, grid_area in square radians), atomically.
void write_scrip_grid(const std::filesystem::path& path, const geo::RemapGrid& grid, const std::string& title);

// A SCRIP weights file (conventions "SCRIP", map_method "Bilinear remapping" or "Conservative
// remapping", normalization "none" or "fracarea", 1-based addresses), atomically; and back.
void write_scrip_weights(const std::filesystem::path& path, const geo::RemapWeights& weights,
                         const std::string& source_name, const std::string& target_name);
geo::RemapWeights read_scrip_weights(const std::filesystem::path& path);

}  // namespace climseg::io
