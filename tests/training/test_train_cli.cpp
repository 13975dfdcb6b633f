// train, export, predict and evaluate through the climseg executable: --key overrides reach the
// config, the exported weights-only file scores exactly like the checkpoint it came from, predict
// writes one mask file per input, and bad flags or configs exit 2 with one line.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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
