// train, export, predict and evaluate through the climseg executable: --key overrides reach the
// config, the exported weights-only file scores exactly like the checkpoint it came from, predict
// writes one mask file per input, and bad flags or configs exit 2 with one line; checkpoints
// describe their channels and predict matches them by name; foreign label classes are refused;
// resuming another network names the setting that differs.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/h5.hpp"
#include "test_support.hpp"

using namespace climseg;
namespace fs = std::filesystem;

namespace {
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST(TrainCli, TrainExportPredictEvaluate) {
  test::TempDir dir;
  const fs::path arch = dir.path() / "arch", ck = dir.path() / "ck";
  auto r = test::run_climseg("--no-progress synth --out " + q(arch) +
                             " --grid 24x36 --steps 12 --steps-per-file 6 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = test::run_climseg("--threads 1 --no-progress train --data.train " + q(arch) + " --checkpoint_dir " + q(ck) +
                        " --model.M 1 --model.N 2 --batch_size 2 --epochs 1 --max_steps 3 --data.val_fraction 0.25");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(ck / "last.h5"));

  r = test::run_climseg("export --model " + q(ck / "last.h5") + " --out " + q(dir.path() / "w.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(fs::file_size(dir.path() / "w.h5"), fs::file_size(ck / "last.h5")) << "the optimizer state was copied";

  auto scores = [&](const fs::path& model) {
    auto e = test::run_climseg("--threads 1 --no-progress evaluate --model " + q(model) + " --in " + q(arch) +
                               " --json " + q(dir.path() / "s.json"));
    EXPECT_EQ(e.exit_code, 0) << e.err;
    EXPECT_NE(e.out.find("mean IoU"), std::string::npos) << e.out;
    return nlohmann::json::parse(read_text(dir.path() / "s.json"));
  };
  nlohmann::json a = scores(ck / "last.h5"), b = scores(dir.path() / "w.h5");
  a.erase("model");
  b.erase("model");
  EXPECT_EQ(a, b) << "the exported weights score differently";
  EXPECT_EQ(a.at("samples"), 12);

  r = test::run_climseg("--threads 1 --no-progress predict --model " + q(dir.path() / "w.h5") + " --in " + q(arch) +
                        " --out " + q(dir.path() / "pred"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int outputs = 0;
  for (const auto& e : fs::directory_iterator(dir.path() / "pred")) outputs += e.path().extension() == ".nc";
  EXPECT_EQ(outputs, 2);

  // Usage errors: exit 2, one line naming the culprit.
  r = test::run_climseg("train --data.train " + q(arch) + " --optimizer.lrr 0.1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("optimizer.lrr"), std::string::npos) << r.err;
  r = test::run_climseg("train --data.train " + q(arch) + " --epochs many");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("epochs"), std::string::npos) << r.err;
  r = test::run_climseg("export --model " + q(arch / "missing.h5") + " --out " + q(dir.path() / "x.h5"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("missing.h5"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "x.h5"));
}

// Issue 16 item 3: a checkpoint records what each input channel is, and predict matches channels
// by name: --channels given in another order gives exactly the probabilities of the default order
// (climseg fed them by position before, so every probability changed), and a list that names
// variables instead of the model's channels is refused with the fix.
TEST(TrainCli, CheckpointDescribesChannelsAndPredictMatchesThemByName) {
  test::TempDir dir;
  const fs::path arch = dir.path() / "arch", ck = dir.path() / "ck";
  auto r = test::run_climseg("-q synth --out " + q(arch) + " --grid 24x36 --steps 4 --steps-per-file 4 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg("--threads 1 --no-progress train --data.train " + q(arch) + " --checkpoint_dir " + q(ck) +
                        " --model.M 1 --model.N 2 --batch_size 2 --epochs 1 --max_steps 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    h5::File f = h5::File::open(ck / "last.h5");
    const nlohmann::json meta = nlohmann::json::parse(f.attr_string("channel_meta"));
    ASSERT_EQ(meta.size(), 4u);
    EXPECT_EQ(meta[0], (nlohmann::json{{"name", "TMQ"},
                                       {"units", "kg/m2"},
                                       {"standard_name", "atmosphere_mass_content_of_water_vapor"},
                                       {"level", ""}}));
    // synth's U850 is a 2-D variable: its level comes from the name (the quantity table).
    EXPECT_EQ(
        meta[1],
        (nlohmann::json{{"name", "U850"}, {"units", "m/s"}, {"standard_name", "eastward_wind"}, {"level", "850 hPa"}}));
    EXPECT_EQ(meta[3]["units"], "Pa");
  }
  auto probabilities = [&](const std::string& extra, const std::string& tag) {
    const fs::path out = dir.path() / tag;
    auto p = test::run_climseg("--threads 1 --no-progress predict --model " + q(ck / "last.h5") + " --in " + q(arch) +
                               " --out " + q(out) + " --probabilities " + extra);
    EXPECT_EQ(p.exit_code, 0) << p.err;
    std::vector<float> all;
    for (const char* v : {"prob_Background", "prob_Tropical_Cyclone", "prob_Atmospheric_River"}) {
      h5::File f = h5::File::open(out / "synth.cam.h2.2000-01-01-00000.climseg.nc");
      Tensor t = f.read_tensor(v);
      all.insert(all.end(), t.begin(), t.end());
    }
    return all;
  };
  const std::vector<float> a = probabilities("", "default");
  const std::vector<float> b = probabilities("--channels PSL,V850,TMQ,U850", "reordered");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "--channels in another order changed the probabilities";
  // Mapping one channel to the same variable explicitly changes nothing either.
  EXPECT_TRUE(a == probabilities("--channels TMQ=TMQ", "mapped"));
  r = test::run_climseg("--no-progress predict --model " + q(ck / "last.h5") + " --in " + q(arch) + " --out " +
                        q(dir.path() / "bad") + " --channels PSL,TMQ,UBOT,VBOT");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("UBOT, VBOT are not among the model's channels, which are TMQ (kg/m2, "
                       "atmosphere_mass_content_of_water_vapor); U850 (m/s, eastward_wind at 850 hPa)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("e.g. --channels TMQ=VAR,U850=VAR,V850=VAR,PSL=VAR"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "bad" / "synth.cam.h2.2000-01-01-00000.climseg.nc"));
}

// Issue 16 item 5: labels holding a class the model does not have (synth --waves labels extreme
// waves 3; the default model has classes 0..2) are refused naming class and count; the explicit
// option trains without them. (climseg used to drop them silently.)
TEST(TrainCli, RefusesLabelClassesTheModelLacks) {
  test::TempDir dir;
  const fs::path arch = dir.path() / "arch";
  auto r = test::run_climseg("-q synth --out " + q(arch) + " --grid 24x36 --steps 4 --steps-per-file 4 --waves");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string train = "--threads 1 --no-progress train --data.train " + q(arch / "waves") +
                            " --data.channels hs --model.M 1 --model.N 2 --batch_size 2 --epochs 1 --max_steps 1 ";
  r = test::run_climseg(train + "--checkpoint_dir " + q(dir.path() / "ck1"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("the labels hold class 3 at "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("which the model does not have (its classes: 0 Background, 1 Tropical Cyclone, 2 Atmospheric "
                       "River); set data.unknown_classes to ignore"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("climseg: error:"), r.err.rfind("climseg: error:")) << r.err;
  r = test::run_climseg(train + "--data.unknown_classes ignore --checkpoint_dir " + q(dir.path() / "ck2"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(train + "--data.unknown_classes drop --checkpoint_dir " + q(dir.path() / "ck3"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

// Resuming a checkpoint of another network names the setting that differs, not 34 tensors.
TEST(TrainCli, ResumingAnotherNetworkNamesTheSetting) {
  test::TempDir dir;
  const fs::path arch = dir.path() / "arch", ck = dir.path() / "ck";
  auto r = test::run_climseg("-q synth --out " + q(arch) + " --grid 24x36 --steps 4 --steps-per-file 4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string train = "--threads 1 --no-progress train --data.train " + q(arch) + " --checkpoint_dir " + q(ck) +
                            " --model.M 1 --batch_size 2 --epochs 1 --max_steps 1 ";
  r = test::run_climseg(train + "--model.N 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_climseg(train + "--model.N 3 --max_steps 2 --resume auto");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("resuming another network: checkpoint has model.N=1, this run asks model.N=3 (resume with "
                       "the checkpoint's settings, or start a new checkpoint_dir)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("level3"), std::string::npos) << r.err;
}
