// SIGKILL at random moments while climseg writes: a checkpoint save loop and `climseg predict` over
// an archive. Every final file must be absent or complete and valid, the previous checkpoint must
// survive, and a rerun of predict must skip the complete outputs and produce exactly what an
// uninterrupted run produces. Loops: $CLIMSEG_KILL9_LOOPS (default 12 here; 100 by hand, see
// docs/reliability.md).
#include <gtest/gtest.h>
#include <netcdf.h>

#include <map>
#include <random>
#include <regex>

#include "core/error.hpp"
#include "kill9.hpp"
#include "models/nets/network.hpp"
#include "models/training/model_io.hpp"
#include "nn/checkpoint.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "test_support.hpp"

namespace climseg::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::microseconds;

class Blob : public nn::Module {
 public:
  explicit Blob(int64_t n) { register_parameter("w", {n}, nn::Init::zeros()); }
};

std::mt19937_64 seeded_rng() {
  const uint64_t seed = std::random_device{}();
  std::printf("kill9: random seed %llu\n", static_cast<unsigned long long>(seed));
  return std::mt19937_64(seed);
}

// Names in `dir` that are not the hidden temporaries of AtomicOutput (".NAME.tmp.PID.RANDOM").
std::vector<std::string> visible_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 1 && n[0] == '.' && n.find(".tmp.") != std::string::npos) continue;
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t last_number(const std::string& text, const std::string& word) {
  int64_t v = 0;
  std::istringstream in(text);
  std::string w;
  int64_t x = 0;
  while (in >> w >> x)
    if (w == word) v = x;
  return v;
}

TEST(Kill9, CheckpointSaveKeepsTheLastCompleteCheckpoint) {
  TempDir dir;
  auto rng = seeded_rng();
  const int loops = kill9_loops(12);
  const int64_t floats = int64_t{1} << 19;
  int64_t on_disk = 0;  // step of the checkpoint known to be on disk
  int mid_save = 0;
  // Calibration (on a scratch folder): how long until the first save and between saves, so the
  // kills spread over start-up, the first save and later ones whatever the machine's speed.
  int64_t min_delay_us = 0, max_delay_us = 0;
  {
    TempDir scratch;
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = spawn_program({CLIMSEG_CHECKPOINT_LOOP, scratch.path().string(), std::to_string(floats)},
                                    scratch / "out.txt", scratch / "err.txt");
    ASSERT_GT(pid, 0);
    std::chrono::steady_clock::time_point t1{}, t3{};
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
      const std::string out = slurp_file(scratch / "out.txt");
      if (t1 == std::chrono::steady_clock::time_point{} && last_number(out, "saved") >= 1)
        t1 = std::chrono::steady_clock::now();
      if (last_number(out, "saved") >= 3) {
        t3 = std::chrono::steady_clock::now();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    kill_after(pid, microseconds(0));
    ASSERT_NE(t3, std::chrono::steady_clock::time_point{}) << "no 3 saves in 60 s: " << slurp_file(scratch / "err.txt");
    // Start-up varies from run to run: spread the kills over 3/4 of it and up to ~12 saves after.
    min_delay_us = std::chrono::duration_cast<microseconds>(t1 - t0).count() * 3 / 4;
    max_delay_us = std::chrono::duration_cast<microseconds>(t1 - t0 + (t3 - t1) * 6).count();
    std::printf("kill9: first save after %.0f ms, then one every %.0f ms\n",
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t3 - t1).count() / 2);
  }
  for (int k = 0; k < loops; ++k) {
    const pid_t pid = spawn_program({CLIMSEG_CHECKPOINT_LOOP, dir.path().string(), std::to_string(floats)},
                                    dir / "out.txt", dir / "err.txt");
    ASSERT_GT(pid, 0);
    // A quarter of the kills anywhere from the start, the rest around and after the first save.
    const int64_t lo = k % 4 == 0 ? 0 : min_delay_us;
    const Ended e = kill_after(pid, microseconds(std::uniform_int_distribution<int64_t>(lo, max_delay_us)(rng)));
    ASSERT_TRUE(e.killed) << "the save loop ended by itself: " << slurp_file(dir / "err.txt");
    const std::string out = slurp_file(dir / "out.txt");
    const int64_t saved = last_number(out, "saved");
    if (out.find("resumed") != std::string::npos) {
      EXPECT_EQ(last_number(out, "resumed"), on_disk) << out;
    }
    if (saved > 0) ++mid_save;
    const fs::path ckpt = dir / "last.h5";
    if (!fs::exists(ckpt)) {
      ASSERT_EQ(on_disk, 0) << "a checkpoint was lost";
      ASSERT_EQ(saved, 0) << "a save was reported but no checkpoint is there";
      continue;
    }
    Blob blob(floats);
    nn::Parameters params(blob);
    nn::Adam adam(params, nn::AdamOptions{});
    nn::CheckpointInfo info;
    ASSERT_NO_THROW(info = nn::load_checkpoint(ckpt, params, &adam)) << "iteration " << k;
    // The file holds the last save reported, or the one whose rename beat the kill to stdout.
    EXPECT_GE(info.step, std::max(on_disk, saved));
    EXPECT_LE(info.step, std::max(on_disk, saved) + 1);
    const auto want = static_cast<float>(info.step);
    for (int64_t i = 0; i < floats; i += 4099) ASSERT_EQ(params.data()[i], want) << "step " << info.step;
    ASSERT_EQ(params.data()[floats - 1], want);
    for (auto& [name, t] : adam.state()) ASSERT_EQ((*t)[t->numel() - 1], want) << name;
    on_disk = info.step;
    EXPECT_EQ(visible_files(dir.path()), (std::vector<std::string>{"err.txt", "last.h5", "out.txt"}));
  }
  std::printf("kill9: %d kills, %d after at least one save, last step on disk %lld\n", loops, mid_save,
              static_cast<long long>(on_disk));
  EXPECT_GT(on_disk, 0) << "no kill landed after a save: the delays are too short to test anything";
}

// class_mask of a predict output, or an exception when the file is not complete and valid.
std::vector<float> read_mask(const fs::path& p, size_t steps, size_t cells) {
  int nc = -1;
  if (nc_open(p.c_str(), NC_NOWRITE, &nc) != NC_NOERR) throw Error(p.string() + ": does not open");
  int var = -1;
  std::vector<float> v(steps * cells);
  int ndims = 0;
  size_t len = 0;
  int dims[NC_MAX_VAR_DIMS];
  const bool ok = nc_inq_varid(nc, "class_mask", &var) == NC_NOERR && nc_inq_varndims(nc, var, &ndims) == NC_NOERR &&
                  ndims == 3 && nc_inq_vardimid(nc, var, dims) == NC_NOERR &&
                  nc_inq_dimlen(nc, dims[0], &len) == NC_NOERR && len == steps &&
                  nc_get_var_float(nc, var, v.data()) == NC_NOERR;
  nc_close(nc);
  if (!ok) throw Error(p.string() + ": class_mask missing or incomplete");
  return v;
}

TEST(Kill9, PredictOutputsAreCompleteOrAbsentAndRerunsSkipThem) {
  TempDir dir;
  const fs::path archive = dir / "archive", model = dir / "model.h5", ref = dir / "ref", out = dir / "out";
  // 6 one-step files on a 16x32 grid; a small U-Net with fixed weights (no training needed).
  auto synth = run_climseg("synth -q --out " + archive.string() + " --grid 16x32 --steps 6 --steps-per-file 1");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  {
    nets::NetConfig c;
    c.type = "unet";
    c.params = {{"depth", 1}, {"width", 4}};
    c.channels = {"TMQ", "U850", "V850", "PSL"};
    auto net = nets::make_network(c);
    nn::Parameters params(*net, 7);
    training::Normalizer norm;
    norm.channels = c.channels;
    norm.shift = {20, 0, 0, 101000};
    norm.scale = {10, 10, 10, 1000};
    nn::CheckpointInfo info;
    info.attributes = training::model_attributes(c, norm);
    nn::save_checkpoint(model, params, nullptr, info);
  }
  const std::string predict =
      climseg_exe().string() + " predict --model " + model.string() + " --in " + archive.string() + " --out ";
  const auto t0 = std::chrono::steady_clock::now();
  auto full = run_command(predict + ref.string());
  ASSERT_EQ(full.exit_code, 0) << full.err;
  // Kills spread over the whole run, whatever the machine's speed.
  const auto run_us = std::chrono::duration_cast<microseconds>(std::chrono::steady_clock::now() - t0).count();
  std::map<std::string, std::vector<float>> expected;
  for (const auto& name : visible_files(ref)) expected[name] = read_mask(ref / name, 1, 16 * 32);
  ASSERT_EQ(expected.size(), 6u);

  auto rng = seeded_rng();
  const int loops = kill9_loops(8);
  int partial = 0;
  for (int k = 0; k < loops; ++k) {
    fs::remove_all(out);
    const pid_t pid = spawn_program(
        {climseg_exe().string(), "predict", "--model", model.string(), "--in", archive.string(), "--out", out.string()},
        dir / "out.txt", dir / "err.txt");
    ASSERT_GT(pid, 0);
    const Ended e = kill_after(pid, microseconds(std::uniform_int_distribution<int64_t>(0, run_us)(rng)));
    ASSERT_TRUE(e.killed || e.exit_code == 0) << slurp_file(dir / "err.txt");
    size_t survived = 0;
    if (fs::exists(out)) {
      for (const auto& name : visible_files(out)) {
        ASSERT_TRUE(expected.count(name)) << "unexpected file " << name;
        std::vector<float> got;
        ASSERT_NO_THROW(got = read_mask(out / name, 1, 16 * 32)) << "iteration " << k << ": " << name;
        ASSERT_EQ(got, expected[name]) << name;
        ++survived;
      }
    }
    if (survived > 0 && survived < expected.size()) ++partial;
    // The rerun skips what survived and completes the rest.
    auto rerun = run_command(predict + out.string());
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
    EXPECT_NE(rerun.err.find(std::to_string(expected.size() - survived) + " files written, " +
                             std::to_string(survived) + " already complete"),
              std::string::npos)
        << rerun.err;
    ASSERT_EQ(visible_files(out).size(), expected.size());
    for (const auto& [name, mask] : expected) ASSERT_EQ(read_mask(out / name, 1, 16 * 32), mask) << name;
  }
  std::printf("kill9: %d kills of predict, %d left some outputs complete and others absent\n", loops, partial);
  // --overwrite redoes every output.
  auto again = run_command(predict + out.string() + " --overwrite");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("6 files written, 0 already complete"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace climseg::test
