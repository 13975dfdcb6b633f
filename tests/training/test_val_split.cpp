// Validation by time range (data.val_time [start, end): start inclusive, end exclusive) and the
// networks' default padding as the train config sees it.
#include <gtest/gtest.h>

#include <set>

#include "core/config.hpp"
#include "core/error.hpp"
#include "models/training/data.hpp"
#include "models/training/train_config.hpp"
#include "models/training/trainer.hpp"
#include "test_support.hpp"
#include "tiny_archive.hpp"

using namespace climseg;
using namespace climseg::training;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

io::Archive open_tiny(const std::vector<std::string>& files) {
  io::ArchiveOptions o;
  o.channels = io::parse_channels("TMQ,U850,V850,PSL");
  o.labels = "auto";
  return io::Archive::open(files, o);
}

}  // namespace

TEST(ValTime, ConfigReadsWritesAndRefuses) {
  json doc = {{"data", {{"train", "x.nc"}, {"val_time", {"2000-01-01T21:00:00", "2000-01-02T03:00:00"}}}}};
  TrainConfig c = TrainConfig::from_json(doc);
  EXPECT_EQ(c.data.val_time, (std::vector<std::string>{"2000-01-01T21:00:00", "2000-01-02T03:00:00"}));
  EXPECT_EQ(TrainConfig::from_json(c.to_json()).data.val_time, c.data.val_time);
  EXPECT_TRUE(TrainConfig::from_json({{"data", {{"train", "x.nc"}}}}).data.val_time.empty());

  // --data.val_time START,END on the command line.
  json d2 = json::object();
  config::apply_overrides(d2, {{"data.train", "x.nc"}, {"data.val_time", "2000-03-01,2000-04-01"}},
                          TrainConfig{}.to_json());
  EXPECT_EQ(TrainConfig::from_json(d2).data.val_time, (std::vector<std::string>{"2000-03-01", "2000-04-01"}));

  auto bad = [](json v, json extra = json::object()) {
    json d = {{"data", {{"train", "x.nc"}, {"val_time", v}}}};
    for (auto it = extra.begin(); it != extra.end(); ++it) d["data"][it.key()] = *it;
    return error_of([&] { TrainConfig::from_json(d); });
  };
  EXPECT_NE(bad({"2000-01-01"}).find("must be [start, end] (two dates), got 1"), std::string::npos);
  EXPECT_NE(bad({"2000-01-02", "2000-01-01"}).find("is not before end"), std::string::npos);
  EXPECT_NE(bad({"2000-01-01", "2000-01-01"}).find("is not before end"), std::string::npos);
  EXPECT_NE(bad({"yesterday", "2000-01-01"}).find("data.val_time"), std::string::npos);
  EXPECT_NE(bad({"2000-01-01", "2000-02-01"}, {{"val_fraction", 0.1}}).find("excludes"), std::string::npos);
  EXPECT_NE(bad({"2000-01-01", "2000-02-01"}, {{"val", {"v.nc"}}}).find("excludes"), std::string::npos);
  EXPECT_NE(bad(42).find("wrong type"), std::string::npos);
}

// The tiny archive: 2 files of 8 steps, step k at 0.125 * k days since 2000-01-01 (noleap), i.e.
// 3-hourly from 2000-01-01T00:00; the second file starts at 2000-01-02T00:00 (step 8).
TEST(ValTime, SplitSelectsByDecodedTime) {
  test::TempDir dir;
  io::Archive a = open_tiny(test::write_tiny_archive(dir.path(), 2, 8, 24, 36));
  std::vector<int64_t> train, val;
  // 21:00 (step 7) and 00:00 next day (step 8, the other file) are in; 03:00 (step 9) is the end.
  split_by_time_range(a, "2000-01-01T21:00:00", "2000-01-02T03:00:00", train, val);
  EXPECT_EQ(val, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(train, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15}));
  // One second past a step's time: that step is in, the next is out.
  split_by_time_range(a, "2000-01-01T06:00:00", "2000-01-01T06:00:01", train, val);
  EXPECT_EQ(val, (std::vector<int64_t>{2}));
  EXPECT_EQ(train.size(), 15u);

  EXPECT_NE(error_of([&] {
              split_by_time_range(a, "2001-01-01", "2001-02-01", train, val);
            }).find("selects no sample of the archive (16 samples, 2000-01-01T00:00:00 to 2000-01-02T21:00:00)"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { split_by_time_range(a, "1999-12-31", "2000-01-03", train, val); }).find("selects every sample"),
      std::string::npos);
  // 2000-02-29 does not exist in the noleap calendar.
  EXPECT_NE(error_of([&] { split_by_time_range(a, "2000-02-29", "2000-03-02", train, val); }).find("2000-02-29"),
            std::string::npos);
}

// The trainer holds the range out: no step trains on samples 7 and 8, every other sample trains
// once per epoch, and validation scores exactly those 2 samples.
TEST(ValTime, TrainerHoldsTheRangeOut) {
  test::TempDir dir;
  const auto files = test::write_tiny_archive(dir.path(), 2, 8, 24, 36);
  json doc = {{"data", {{"train", files}, {"val_time", {"2000-01-01T21:00:00", "2000-01-02T03:00:00"}}}},
              {"model", {{"type", "cgnet"}, {"M", 1}, {"N", 2}}},
              {"batch_size", 2},
              {"epochs", 1},
              {"checkpoint_dir", (dir / "ck").string()}};
  std::multiset<int64_t> trained;
  TrainHooks hooks;
  hooks.on_batch = [&](int64_t, const std::vector<int64_t>& samples) {
    trained.insert(samples.begin(), samples.end());
  };
  TrainResult r = train(TrainConfig::from_json(doc), Comm::self(), hooks);
  EXPECT_EQ(r.steps, 7);  // 14 training samples / batch 2
  EXPECT_EQ(trained, (std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15}));
  ASSERT_FALSE(r.last_validation.is_null());
  EXPECT_EQ(r.last_validation.at("samples"), 2);
}

// U-Net's default padding is spherical, CGNet's circular; a named padding is kept.
TEST(DefaultPadding, UNetSphericalCGNetCircular) {
  auto model = [](json m) { return TrainConfig::from_json({{"data", {{"train", "x.nc"}}}, {"model", m}}).model; };
  EXPECT_EQ(model({{"type", "unet"}}).padding, "spherical");
  EXPECT_EQ(model({{"type", "cgnet"}}).padding, "circular");
  EXPECT_EQ(model({{"type", "unet"}, {"padding", "circular"}}).padding, "circular");
  EXPECT_EQ(TrainConfig::from_json({{"data", {{"train", "x.nc"}}}}).model.padding, "circular");
  // As `climseg train --model.type unet --print-config` builds it.
  json doc = json::object();
  config::apply_overrides(doc, config::parse_override_args({"--data.train", "x.nc", "--model.type", "unet"}),
                          TrainConfig{}.to_json());
  EXPECT_EQ(TrainConfig::from_json(doc).to_json().at("model").at("padding"), "spherical");
}
