// Channel statistics: hand-worked moments, pairwise merges equal to one pass, masks, area weights,
// histogram percentiles, and the stats file (climseg's format and ClimateNet's).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "core/error.hpp"
#include "readers/stats.hpp"
#include "test_support.hpp"

using namespace climseg::io;

namespace {
// A one-channel (or two-channel) sample on an h x w grid with the given values.
Sample make_sample(int64_t h, int64_t w, const std::vector<float>& values, int64_t channels = 1) {
  Sample s;
  s.grid = climseg::geo::Grid::centred(h, w);
  for (int64_t c = 0; c < channels; ++c) s.channels.push_back("c" + std::to_string(c));
  s.data = climseg::Tensor::empty({channels, h, w});
  for (int64_t k = 0; k < s.data.numel(); ++k) s.data[k] = values[static_cast<size_t>(k % int64_t(values.size()))];
  return s;
}
}  // namespace

TEST(Stats, HandWorkedMomentsOfOneSample) {
  StatsAccumulator acc({"c0"}, {"K"});
  acc.add(make_sample(2, 2, {1, 2, 3, 4}));
  ChannelStats r = acc.result();
  ASSERT_EQ(r.channels.size(), 1u);
  EXPECT_EQ(r.channels[0].count, 4);
  EXPECT_DOUBLE_EQ(r.channels[0].mean, 2.5);
  EXPECT_DOUBLE_EQ(r.channels[0].std, std::sqrt(1.25));  // population: (2.25+0.25+0.25+2.25)/4
  EXPECT_EQ(r.channels[0].min, 1.0);
  EXPECT_EQ(r.channels[0].max, 4.0);
  EXPECT_EQ(r.channels[0].units, "K");
}

TEST(Stats, MergingSamplesInAnyGroupingEqualsOnePassOverAll) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(300.0f, 20.0f);
  std::vector<Sample> samples;
  std::vector<double> all;
  for (int k = 0; k < 9; ++k) {
    std::vector<float> v(48);
    for (float& x : v) {
      x = dist(rng);
      all.push_back(x);
    }
    samples.push_back(make_sample(6, 8, v));
  }
  double mean = 0;
  for (double x : all) mean += x;
  mean /= double(all.size());
  double var = 0;
  for (double x : all) var += (x - mean) * (x - mean);
  var /= double(all.size());
  StatsAccumulator serial({"c0"}, {""});
  for (const Sample& s : samples) serial.add(s);
  // Three "ranks" with blocks 4, 3, 2 merged afterwards.
  StatsAccumulator a({"c0"}, {""}), b({"c0"}, {""}), c({"c0"}, {""});
  for (int k = 0; k < 9; ++k) (k < 4 ? a : k < 7 ? b : c).add(samples[static_cast<size_t>(k)]);
  a.merge(b);
  a.merge(c);
  for (const StatsAccumulator* acc : {&serial, &a}) {
    ChannelStat r = acc->result().channels[0];
    EXPECT_EQ(r.count, 9 * 48);
    EXPECT_NEAR(r.mean, mean, 1e-9 * std::abs(mean));
    EXPECT_NEAR(r.std, std::sqrt(var), 1e-9 * std::sqrt(var));
  }
  EXPECT_EQ(a.samples(), 9);
}

TEST(Stats, InvalidValuesAreLeftOutAndAreaWeightsApply) {
  Sample s = make_sample(2, 2, {1, 100, 3, 5});
  s.valid = climseg::Tensor({1, 2, 2});
  s.valid.fill(1.0f);
  s.valid[1] = 0.0f;  // the 100 is fill
  StatsAccumulator plain({"c0"}, {""});
  plain.add(s);
  EXPECT_EQ(plain.result().channels[0].count, 3);
  EXPECT_DOUBLE_EQ(plain.result().channels[0].mean, 3.0);
  EXPECT_EQ(plain.result().channels[0].max, 5.0);
  // Row weights 1 and 3: rows {1} and {3, 5} → (1*1 + 3*(3+5)) / (1 + 3*2) = 25/7.
  StatsAccumulator weighted({"c0"}, {""}, {1.0, 3.0});
  weighted.add(s);
  ChannelStat w = weighted.result().channels[0];
  EXPECT_DOUBLE_EQ(w.mean, 25.0 / 7.0);
  const double m = 25.0 / 7.0;
  EXPECT_NEAR(w.std, std::sqrt(((1 - m) * (1 - m) + 3 * ((3 - m) * (3 - m) + (5 - m) * (5 - m))) / 7.0), 1e-12);
  EXPECT_TRUE(weighted.result().area_weighted);
}

TEST(Stats, HistogramPercentilesWithinOneBin) {
  std::vector<float> v(1000);
  for (int k = 0; k < 1000; ++k) v[static_cast<size_t>(k)] = float(k);
  Sample s = make_sample(10, 100, v);
  StatsAccumulator acc({"c0"}, {""});
  acc.add(s);
  PercentileAccumulator p(acc.moments(), {}, 1 << 12);
  p.add(s);
  auto q = p.values(0, {0, 50, 99, 100});
  const double bin = 999.0 / (1 << 12);
  EXPECT_NEAR(q[0], 0.0, bin);
  EXPECT_NEAR(q[1], 499.5, 2 * bin);   // numpy: 0.5 * 999
  EXPECT_NEAR(q[2], 989.01, 2 * bin);  // numpy.percentile(arange(1000), 99) = 0.99 * 999
  EXPECT_NEAR(q[3], 999.0, bin);
  EXPECT_EQ(parse_percentiles("99, 1,50"), (std::vector<double>{1, 50, 99}));
  EXPECT_THROW(parse_percentiles("101"), climseg::UsageError);
  EXPECT_THROW(parse_percentiles("a"), climseg::UsageError);
}

TEST(Stats, FileRoundTripAndClimateNetFormat) {
  climseg::test::TempDir dir;
  ChannelStats st;
  st.channels.push_back({"TMQ", "kg m-2", 10, 19.2, 15.8, 0.1, 72.5, {{1, 0.5}, {99, 60.25}}});
  st.channels.push_back({"U850", "m/s", 10, 1.0 / 3.0, 8.0, -40, 55, {}});
  st.samples = 2;
  st.provenance = {{"inputs", {"a.nc"}}};
  save_stats(dir / "s.json", st);
  ChannelStats back = load_stats(dir / "s.json");
  EXPECT_EQ(back.at("U850").mean, 1.0 / 3.0);  // doubles survive exactly
  EXPECT_EQ(back.at("TMQ").percentiles, (std::vector<std::pair<double, double>>{{1, 0.5}, {99, 60.25}}));
  auto [m, s] = back.mean_std({"U850", "TMQ"});
  EXPECT_EQ(m, (std::vector<float>{float(1.0 / 3.0), 19.2f}));
  EXPECT_EQ(s, (std::vector<float>{8.0f, 15.8f}));
  try {
    back.at("PSL");
    FAIL();
  } catch (const climseg::Error& e) {
    EXPECT_STREQ(e.what(), "statistics have no channel 'PSL' (they have: TMQ, U850)");
  }
  // ClimateNet's normalization attribute of cgnet_climatenet.h5.
  ChannelStats cn = stats_from_json(nlohmann::json::parse(R"({"TMQ": {"mean": 0.37387, "std": 302.66}})"), "attr");
  EXPECT_EQ(cn.at("TMQ").std, 302.66);
  std::ofstream(dir / "bad.json") << "{\"format\": \"climseg-stats\", \"version\": 1, \"channels\": [{\"name\": 1}]}";
  EXPECT_THROW(load_stats(dir / "bad.json"), climseg::Error);
  std::ofstream(dir / "text.json") << "not json";
  try {
    load_stats(dir / "text.json");
    FAIL();
  } catch (const climseg::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind((dir / "text.json").string() + ": not valid JSON", 0), 0u) << e.what();
  }
  EXPECT_THROW(load_stats(dir / "missing.json"), climseg::Error);
}
