// `climseg predict` under MPI: ranks split the archive's time steps (contiguous blocks over all
// files), not its files. One file of many steps is shared by every rank; its output, assembled from
// the ranks' parts, is bit-identical to a serial run's, and no part file is left behind. The ranks
// read ahead and write behind (PredictOptions::overlap); the serial run does neither (--no-overlap).
#include <gtest/gtest.h>

#include <cstring>

#include "core/h5.hpp"
#include "models/training/model_io.hpp"
#include "models/training/predictor.hpp"
#include "nn/checkpoint.hpp"
#include "readers/partition.hpp"
#include "shared_dir.hpp"
#include "test_support.hpp"
#include "tiny_archive.hpp"

using namespace climseg;
using namespace climseg::training;
namespace fs = std::filesystem;

namespace {

// An untrained small CGNet (random weights from a fixed seed) saved as a climseg checkpoint.
void write_model(const fs::path& path) {
  nets::NetConfig c = nets::NetConfig::from_json({{"type", "cgnet"}, {"M", 1}, {"N", 2}});
  auto net = nets::make_network(c);
  nn::Parameters params(*net, 11);
  Normalizer norm;
  norm.channels = c.channels;
  norm.shift = {30.0f, 0.0f, 0.0f, 100500.0f};
  norm.scale = {12.0f, 6.0f, 6.0f, 1200.0f};
  nn::CheckpointInfo info;
  info.config = "{}";
  info.attributes = model_attributes(c, norm);
  nn::save_checkpoint(path, params, nullptr, info);
}

std::vector<std::string> shared_archive(const Comm& comm, const fs::path& dir, int files, int steps) {
  std::vector<std::string> paths;
  if (comm.is_root()) {
    fs::create_directories(dir);
    paths = test::write_tiny_archive(dir, files, steps, 24, 36);
  }
  std::string joined;
  for (const std::string& p : paths) joined += p + "\n";
  comm.broadcast(joined);
  paths.clear();
  for (size_t a = 0, b; (b = joined.find('\n', a)) != std::string::npos; a = b + 1)
    paths.push_back(joined.substr(a, b - a));
  return paths;
}

// Predicts `files` on all ranks and on rank 0 alone; on rank 0, compares every output variable.
void expect_like_serial(const std::vector<std::string>& files, const fs::path& dir, int64_t total_steps) {
  Comm comm = Comm::world();
  const fs::path model = dir / "model.h5";
  if (comm.is_root()) write_model(model);
  comm.barrier();
  ModelBundle m = load_model(model);
  PredictOptions o;
  o.inputs = files;
  o.probabilities = true;
  o.out_dir = dir / "parallel";
  PredictReport r = predict(m, o, comm);
  // Each rank predicted its block of the archive's steps.
  EXPECT_EQ(r.samples, io::block_partition(total_steps, comm.rank(), comm.size()).size());
  EXPECT_EQ(comm.sum(r.samples), total_steps);
  EXPECT_EQ(comm.sum(r.files_written), static_cast<int64_t>(files.size()));
  if (!comm.is_root()) return;
  o.out_dir = dir / "serial";
  o.overlap = false;
  PredictReport s = predict(m, o, Comm::self());
  // Inline reading and writing: nothing of either is hidden.
  EXPECT_NEAR(s.times.read_wait_s, s.times.read_s, 1e-9);
  EXPECT_NEAR(s.times.write_wait_s, s.times.write_s, 1e-9);
  EXPECT_EQ(s.times.steps, total_steps);
  ASSERT_EQ(s.outputs.size(), files.size());
  for (const auto& e : fs::directory_iterator(dir / "parallel"))
    EXPECT_EQ(e.path().extension(), ".nc") << "left behind: " << e.path();
  for (const std::string& out : s.outputs) {
    const fs::path name = fs::path(out).filename();
    h5::File a = h5::File::open(dir / "serial" / name), b = h5::File::open(dir / "parallel" / name);
    for (const char* var : {"class_mask", "prob_Background", "prob_Tropical_Cyclone", "prob_Atmospheric_River"}) {
      const Tensor x = a.read_tensor(var), y = b.read_tensor(var);
      ASSERT_EQ(x.shape(), y.shape()) << name << " " << var;
      EXPECT_EQ(std::memcmp(x.data(), y.data(), size_t(x.numel()) * sizeof(float)), 0) << name << " " << var;
    }
    EXPECT_EQ(a.read_doubles("time"), b.read_doubles("time")) << name;
  }
  // The masks are not all one class (the comparison means something).
  const Tensor mask = h5::File::open(s.outputs.front()).read_tensor("class_mask");
  EXPECT_NE(*std::min_element(mask.begin(), mask.end()), *std::max_element(mask.begin(), mask.end()));
}

}  // namespace

TEST(PredictMpi, OneFileOfManyStepsIsSharedByTheRanks) {
  Comm comm = Comm::world();
  test::SharedDir dir(comm);
  const auto files = shared_archive(comm, dir.path / "data", 1, 8);
  expect_like_serial(files, dir.path, 8);
}

// Two files of 5 steps: on 2 ranks each rank writes one file directly; on 4 ranks (blocks 3, 3, 2,
// 2) the first file is shared by ranks 0-1 and the second by ranks 1-3.
TEST(PredictMpi, FilesWholeOrSharedAsTheBlocksFall) {
  Comm comm = Comm::world();
  test::SharedDir dir(comm);
  const auto files = shared_archive(comm, dir.path / "data", 2, 5);
  expect_like_serial(files, dir.path, 10);
}

// A rerun keeps complete outputs, shared or not, and predicts nothing.
TEST(PredictMpi, CompleteOutputsAreKept) {
  Comm comm = Comm::world();
  test::SharedDir dir(comm);
  const auto files = shared_archive(comm, dir.path / "data", 1, 6);
  const fs::path model = dir.path / "model.h5";
  if (comm.is_root()) write_model(model);
  comm.barrier();
  ModelBundle m = load_model(model);
  PredictOptions o;
  o.inputs = files;
  o.out_dir = dir.path / "out";
  predict(m, o, comm);
  PredictReport again = predict(m, o, comm);
  EXPECT_EQ(comm.sum(again.samples), 0);
  EXPECT_EQ(comm.sum(again.files_skipped), 1);
  EXPECT_EQ(comm.sum(again.files_written), 0);
}
