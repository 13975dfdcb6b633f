// Reruns over the same archive: `climseg label` keeps complete label files (their river rows and
// counts come back from the file), redoes missing ones, and --overwrite redoes everything; the
// tables come out identical either way.
#include <gtest/gtest.h>

#include <regex>

#include "bad_input_files.hpp"
#include "test_support.hpp"

namespace climseg::test {
namespace {

namespace fs = std::filesystem;

std::string without_seconds(std::string json) {
  return std::regex_replace(json, std::regex(R"("seconds": [0-9.e+-]+)"), R"("seconds": 0)");
}

TEST(Rerun, LabelKeepsCompleteFilesAndRedoesTheRest) {
  TempDir dir;
  const fs::path archive = dir / "archive", out = dir / "labels";
  auto synth = run_climseg("synth -q --out " + archive.string() + " --grid 32x64 --steps 4 --steps-per-file 1");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const std::string label = "label --in " + archive.string() + " --out " + out.string() + " --detect tc,ar";
  auto first = run_climseg(label);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string rivers = slurp(out / "rivers.csv"), tracks = slurp(out / "tc_tracks.csv");
  const std::string summary = without_seconds(slurp(out / "label_summary.json"));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().string().ends_with(".labels.nc")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 4u);
  const auto kept_time = fs::last_write_time(files[0]);

  // One file lost (as after a kill): only it is redone, the tables are the same.
  fs::remove(files[2]);
  auto second = run_climseg(label);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("kept 3 complete label file(s)"), std::string::npos) << second.err;
  EXPECT_TRUE(fs::exists(files[2]));
  EXPECT_EQ(fs::last_write_time(files[0]), kept_time);
  EXPECT_EQ(slurp(out / "rivers.csv"), rivers);
  EXPECT_EQ(slurp(out / "tc_tracks.csv"), tracks);
  EXPECT_EQ(without_seconds(slurp(out / "label_summary.json")), summary);

  // --overwrite redoes all of them.
  auto third = run_climseg(label + " --overwrite");
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(third.err.find("kept"), std::string::npos) << third.err;
  EXPECT_EQ(slurp(out / "rivers.csv"), rivers);
  EXPECT_EQ(without_seconds(slurp(out / "label_summary.json")), summary);
}

}  // namespace
}  // namespace climseg::test
