// climseg synth over MPI ranks: each rank writes its block of files; the archive is byte for byte
// the one a single process writes.
#include <gtest/gtest.h>

#include <fstream>

#include "core/mpi.hpp"
#include "models/synth/archive.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace climseg;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST(SynthMpi, RanksWriteTheSameArchiveAsOneProcess) {
  Comm world = Comm::world();
  ASSERT_GT(world.size(), 1);
  std::unique_ptr<test::TempDir> owned;
  std::string dir;
  if (world.is_root()) {
    owned = std::make_unique<test::TempDir>();
    dir = owned->path().string();
  }
  world.broadcast(dir);
  synth::SynthConfig c;
  c.height = 24;
  c.width = 48;
  c.steps = 5;  // three files of 2, 2 and 1 steps over 2 or 4 ranks (some ranks have none)
  c.steps_per_file = 2;
  c.waves = true;
  auto par = synth::write_archive(c, fs::path(dir) / "par", world, false);
  if (world.is_root()) {
    auto ser = synth::write_archive(c, fs::path(dir) / "ser", Comm::self(), false);
    ASSERT_EQ(par.cam.size(), 3u);
    for (size_t k = 0; k < par.cam.size(); ++k) {
      EXPECT_EQ(slurp(par.cam[k]), slurp(ser.cam[k])) << par.cam[k];
      EXPECT_EQ(slurp(par.waves[k]), slurp(ser.waves[k])) << par.waves[k];
    }
    for (auto [p, s] : {std::pair{par.cyclones_csv, ser.cyclones_csv},
                        {par.rivers_csv, ser.rivers_csv},
                        {par.waves_csv, ser.waves_csv},
                        {par.manifest, ser.manifest}})
      EXPECT_EQ(slurp(p), slurp(s)) << p;
  }
  world.barrier();
}
