// Unstructured grids and weights in files: SCRIP weights and grid files round trip, a UGRID mesh reads
// as the same cells, the real CAM-SE file is recognised as ne30np4 columns and a lat-lon file is not,
// and CDO applies climseg's SCRIP weights (`cdo remap,r360x180,WEIGHTS`) with the same result as climseg
// to 1e-6 (skipped when cdo is not installed).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netcdf.h>

#include <cmath>

#include "core/error.hpp"
#include "geo/cubed_sphere.hpp"
#include "geo/remap.hpp"
#include "readers/scrip.hpp"
#include "test_support.hpp"

using namespace climseg;
using namespace climseg::geo;

namespace {

void check(int rc) { ASSERT_EQ(rc, NC_NOERR) << nc_strerror(rc); }

// A file with one variable f(dim) of the given values.
void write_field(const std::filesystem::path& path, const char* dim, const std::vector<float>& f) {
  int nc, d, v;
  check(nc_create(path.c_str(), NC_CLOBBER | NC_NETCDF4, &nc));
  check(nc_def_dim(nc, dim, f.size(), &d));
  check(nc_def_var(nc, "f", NC_FLOAT, 1, &d, &v));
  check(nc_enddef(nc));
  check(nc_put_var_float(nc, v, f.data()));
  check(nc_close(nc));
}

std::vector<float> read_var(const std::filesystem::path& path, const char* name) {
  int nc, v;
  EXPECT_EQ(nc_open(path.c_str(), NC_NOWRITE, &nc), NC_NOERR) << path;
  EXPECT_EQ(nc_inq_varid(nc, name, &v), NC_NOERR);
  int nd;
  int dims[NC_MAX_VAR_DIMS];
  nc_inq_varndims(nc, v, &nd);
  nc_inq_vardimid(nc, v, dims);
  size_t n = 1;
  for (int k = 0; k < nd; ++k) {
    size_t len;
    nc_inq_dimlen(nc, dims[k], &len);
    n *= len;
  }
  std::vector<float> out(n);
  EXPECT_EQ(nc_get_var_float(nc, v, out.data()), NC_NOERR);
  nc_close(nc);
  return out;
}

bool have_cdo() { return test::run_command("command -v cdo >/dev/null").exit_code == 0; }

double field(double lat, double lon) {
  const double c = std::cos(lat * kDegToRad);
  return 2.0 + c * c * std::cos(2.0 * lon * kDegToRad) + std::tanh(10.0 * std::sin(lat * kDegToRad));
}

}  // namespace

TEST(Scrip, WeightsAndGridFilesRoundTrip) {
  test::TempDir dir;
  const UnstructuredGrid u = cubed_sphere_grid(*parse_cubed_sphere("ne8pg2"));
  const Grid g = Grid::centred(36, 72);
  for (const RemapWeights& w : {bilinear_weights(u, g), conservative_weights(u, g), conservative_weights(g, u)}) {
    io::write_scrip_weights(dir / "w.nc", w, "ne8pg2", "5x5");
    const RemapWeights r = io::read_scrip_weights(dir / "w.nc");
    EXPECT_EQ(r.method, w.method);
    EXPECT_EQ(r.row_start, w.row_start);
    EXPECT_EQ(r.col, w.col);
    EXPECT_EQ(r.weight, w.weight);
    EXPECT_EQ(r.source.lat, w.source.lat);
    EXPECT_EQ(r.target.corner_lon, w.target.corner_lon);
    EXPECT_EQ(r.target_frac, w.target_frac);
  }
  // The grid file reads back as the same cells.
  io::write_scrip_grid(dir / "grid.nc", RemapGrid::describe(u), "ne8pg2");
  const auto layout = io::detect_column_layout(dir / "grid.nc");
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->kind, io::ColumnLayout::Kind::scrip);
  EXPECT_EQ(layout->columns, u.size());
  const UnstructuredGrid back = io::read_unstructured_grid(dir / "grid.nc");
  ASSERT_EQ(back.size(), u.size());
  EXPECT_EQ(back.neighbours, u.neighbours);
  for (int64_t i = 0; i < u.size(); ++i) ASSERT_NEAR(back.area_m2[size_t(i)] / u.area_m2[size_t(i)], 1.0, 1e-12);
  // Not a weights file: one line naming it.
  try {
    io::read_scrip_weights(dir / "grid.nc");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a SCRIP weights file"), std::string::npos) << e.what();
  }
}

TEST(Scrip, UgridMeshReadsAsTheSameCells) {
  test::TempDir dir;
  // ne4pg1 written as a UGRID mesh: nodes are the merged cell corners, faces 1-based.
  std::vector<double> lat, lon, clat, clon;
  cubed_sphere_cells(4, 1, lat, lon, clat, clon);
  std::vector<Vec3> corners;
  for (size_t k = 0; k < clat.size(); ++k) corners.push_back(unit_vector(clat[k], clon[k]));
  const std::vector<int64_t> id = merge_close_points(corners, 1e-9);
  std::vector<int64_t> node_of(id.size());
  std::vector<double> nx, ny;
  for (size_t k = 0; k < id.size(); ++k) {
    if (id[k] == int64_t(k)) {
      node_of[k] = int64_t(nx.size());
      nx.push_back(clon[k]);
      ny.push_back(clat[k]);
    } else {
      node_of[k] = node_of[size_t(id[k])];
    }
  }
  std::vector<int> faces;
  for (size_t k = 0; k < id.size(); ++k) faces.push_back(int(node_of[k]) + 1);
  int nc, dn, df, d4, vm, vx, vy, vf;
  const auto path = dir / "mesh.nc";
  check(nc_create(path.c_str(), NC_CLOBBER | NC_NETCDF4, &nc));
  check(nc_def_dim(nc, "nMesh2_node", nx.size(), &dn));
  check(nc_def_dim(nc, "nMesh2_face", lat.size(), &df));
  check(nc_def_dim(nc, "nMaxMesh2_face_nodes", 4, &d4));
  check(nc_def_var(nc, "Mesh2", NC_INT, 0, nullptr, &vm));
  const char* role = "mesh_topology";
  check(nc_put_att_text(nc, vm, "cf_role", strlen(role), role));
  const char* nodes = "Mesh2_node_x Mesh2_node_y";
  check(nc_put_att_text(nc, vm, "node_coordinates", strlen(nodes), nodes));
  const char* conn = "Mesh2_face_nodes";
  check(nc_put_att_text(nc, vm, "face_node_connectivity", strlen(conn), conn));
  check(nc_def_var(nc, "Mesh2_node_x", NC_DOUBLE, 1, &dn, &vx));
  check(nc_def_var(nc, "Mesh2_node_y", NC_DOUBLE, 1, &dn, &vy));
  int fd[2] = {df, d4};
  check(nc_def_var(nc, "Mesh2_face_nodes", NC_INT, 2, fd, &vf));
  const int one = 1;
  check(nc_put_att_int(nc, vf, "start_index", NC_INT, 1, &one));
  check(nc_enddef(nc));
  check(nc_put_var_double(nc, vx, nx.data()));
  check(nc_put_var_double(nc, vy, ny.data()));
  check(nc_put_var_int(nc, vf, faces.data()));
  check(nc_close(nc));
  const auto layout = io::detect_column_layout(path);
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->kind, io::ColumnLayout::Kind::ugrid);
  EXPECT_EQ(layout->dimension, "nMesh2_face");
  const UnstructuredGrid m = io::read_unstructured_grid(path);
  const UnstructuredGrid c = UnstructuredGrid::from_cells(lat, lon, 4, clat, clon);
  ASSERT_EQ(m.size(), c.size());
  EXPECT_EQ(m.neighbours, c.neighbours);
  for (int64_t i = 0; i < c.size(); ++i) {
    ASSERT_NEAR(m.area_m2[size_t(i)] / c.area_m2[size_t(i)], 1.0, 1e-12);
    // Face centres (no face_coordinates): the normalised mean of the corners.
    Vec3 mean{};
    for (int k = 0; k < 4; ++k)
      mean = mean + unit_vector(clat[size_t(i) * 4 + size_t(k)], clon[size_t(i) * 4 + size_t(k)]);
    double la, lo;
    lat_lon_of(mean, la, lo);
    ASSERT_NEAR(m.lat[size_t(i)], la, 1e-9);
    ASSERT_NEAR(m.lon[size_t(i)], lo, 1e-9);
  }
}

TEST(Scrip, RealCamSeFileIsNe30np4Columns) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  const auto layout = io::detect_column_layout(test::real_file("geocat_camse_unstructured_grid.nc"));
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->kind, io::ColumnLayout::Kind::ncol);
  EXPECT_EQ(layout->dimension, "ncol");
  EXPECT_EQ(layout->columns, 48602);
  EXPECT_EQ(layout->description, "cubed sphere ne30np4");
  EXPECT_FALSE(io::detect_column_layout(test::real_file("geocat_era5_1995-07-14T12.nc")));
  const UnstructuredGrid g = io::read_unstructured_grid(test::real_file("geocat_camse_unstructured_grid.nc"));
  EXPECT_EQ(g.size(), 48602);
  EXPECT_TRUE(g.global());
  EXPECT_NEAR(g.total_area_m2() / (4 * kPi * kEarthRadius * kEarthRadius), 1.0, 1e-12);
}

TEST(Scrip, CdoAppliesClimsegWeightsLikeClimseg) {
  if (!have_cdo()) GTEST_SKIP() << "cdo not installed (scripts/test.sh installs it)";
  test::TempDir dir;
  const Grid g = Grid::centred(180, 360);  // CDO's r360x180
  for (const char* name : {"ne30pg2", "ne16np4"}) {
    const UnstructuredGrid u = cubed_sphere_grid(*parse_cubed_sphere(name));
    io::write_scrip_grid(dir / "grid.nc", RemapGrid::describe(u), name);
    std::vector<float> f(size_t(u.size()));
    for (int64_t i = 0; i < u.size(); ++i) f[size_t(i)] = float(field(u.lat[size_t(i)], u.lon[size_t(i)]));
    write_field(dir / "in.nc", "ncol", f);
    for (const RemapWeights& w : {bilinear_weights(u, g), conservative_weights(u, g)}) {
      io::write_scrip_weights(dir / "w.nc", w, name, "r360x180");
      std::vector<float> mine(size_t(g.size()));
      w.apply(f, mine);
      const auto r = test::run_command(
          fmt::format("cd {} && cdo -s -f nc4 remap,r360x180,w.nc -setgrid,grid.nc in.nc out.nc", dir.path().string()));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const std::vector<float> theirs = read_var(dir / "out.nc", "f");
      ASSERT_EQ(theirs.size(), mine.size());
      double worst = 0;
      for (size_t k = 0; k < mine.size(); ++k) worst = std::max(worst, std::abs(double(mine[k]) - double(theirs[k])));
      std::printf("%s %s: cdo remap with climseg's weights, largest difference %.3g\n", name,
                  remap_method_name(w.method), worst);
      EXPECT_LE(worst, 1e-6 * 3.0) << name << " " << remap_method_name(w.method);
    }
  }
}
