// The search space and plan without training: parsing and its errors, seeded sampling, the grid,
// rung budgets of successive halving and Hyperband (Li et al. 2018's bracket sizes), promotions that
// do not depend on the order results arrive in, and the metric read from a confusion matrix.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.hpp"
#include "models/search/plan.hpp"
#include "models/search/search.hpp"
#include "models/search/space.hpp"
#include "models/training/metrics.hpp"

using namespace climseg;
using namespace climseg::search;
using nlohmann::json;

namespace {

SearchSpace two_keys() {
  return SearchSpace::from_json(json{{"optimizer.lr", {{"log_uniform", {1e-4, 1e-2}}}},
                                     {"loss.type", {{"choices", {"cross_entropy", "dice", "jaccard"}}}},
                                     {"model.N", {{"int", {2, 4}}}},
                                     {"batch_size", 2}});
}

StrategyConfig strategy(const json& j) { return StrategyConfig::from_json(j); }

RungResult ok(double metric) {
  RungResult r;
  r.metric = metric;
  r.steps = 1;
  return r;
}

}  // namespace

TEST(SearchSpace, ParsesKindsAndRefusesMalformedEntries) {
  SearchSpace s = two_keys();
  ASSERT_EQ(s.parameters().size(), 4u);
  EXPECT_EQ(s.searched_keys(), (std::vector<std::string>{"loss.type", "model.N", "optimizer.lr"}));
  EXPECT_EQ(s.to_json()["batch_size"], 2);
  EXPECT_EQ(s.to_json()["model.N"]["int"], json({2, 4}));

  auto bad = [](const json& j) { EXPECT_THROW(SearchSpace::from_json(j), UsageError) << j.dump(); };
  bad({{"optimizer.lr", {{"log_uniform", {0.0, 1e-2}}}}});           // log of 0
  bad({{"optimizer.lr", {{"uniform", {1e-2, 1e-4}}}}});              // low > high
  bad({{"optimizer.lr", {{"uniform", {1e-4}}}}});                    // not [low, high]
  bad({{"model.N", {{"int", {1.5, 4}}}}});                           // integer bounds
  bad({{"loss.type", {{"choices", json::array()}}}});                // no choices
  bad({{"optimizer.lr", {{"uniform", {0, 1}}, {"choices", {1}}}}});  // two kinds
  bad({{"optimizer.lr", {{"uniform", {0, 1}}, {"step", 2}}}});       // unknown field
  bad({{"max_steps", {{"int", {1, 4}}}}});                           // the search's own key
  bad({{"checkpoint_dir", "x"}});                                    // likewise, even fixed
  bad({{"optimizer.", 1}});                                          // not a dotted key
  bad(json::array());                                                // not an object
}

TEST(SearchSpace, SamplingIsSeededInRangeAndPerTrial) {
  SearchSpace s = two_keys();
  std::set<std::string> types;
  std::set<int64_t> ns;
  double lo = 1, hi = 0;
  for (int64_t t = 0; t < 300; ++t) {
    json v = s.sample(7, t);
    EXPECT_EQ(v, s.sample(7, t));  // a pure function of (seed, trial)
    const double lr = v["optimizer.lr"].get<double>();
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-2);
    lo = std::min(lo, lr);
    hi = std::max(hi, lr);
    types.insert(v["loss.type"].get<std::string>());
    ns.insert(v["model.N"].get<int64_t>());
    EXPECT_EQ(v["batch_size"], 2);
  }
  EXPECT_EQ(types.size(), 3u);
  EXPECT_EQ(ns, (std::set<int64_t>{2, 3, 4}));  // integer bounds are inclusive
  // Log-uniform: 300 draws cover the two decades (a uniform draw would put ~99% above 1e-3).
  EXPECT_LT(lo, 2e-4);
  EXPECT_GT(hi, 5e-3);
  EXPECT_NE(s.sample(7, 0), s.sample(8, 0));
  // Adding a key leaves the other keys' draws unchanged.
  SearchSpace more = SearchSpace::from_json(json{{"optimizer.lr", {{"log_uniform", {1e-4, 1e-2}}}},
                                                 {"loss.type", {{"choices", {"cross_entropy", "dice", "jaccard"}}}},
                                                 {"model.N", {{"int", {2, 4}}}},
                                                 {"batch_size", 2},
                                                 {"optimizer.weight_decay", {{"uniform", {0, 1e-3}}}}});
  json a = s.sample(7, 3), b = more.sample(7, 3);
  b.erase("optimizer.weight_decay");
  EXPECT_EQ(a, b);
}

TEST(SearchSpace, GridEnumeratesEveryCombination) {
  SearchSpace s = SearchSpace::from_json(json{{"optimizer.lr", {{"log_uniform", {1e-4, 1e-2}}, {"points", 3}}},
                                              {"loss.type", {{"choices", {"cross_entropy", "dice"}}}},
                                              {"model.N", {{"int", {2, 3}}, {"points", 5}}}});
  std::vector<json> g = s.grid();
  // 2 losses x 2 distinct integers (5 points over [2, 3] round to 2 and 3) x 3 rates.
  ASSERT_EQ(g.size(), 12u);
  // Keys in sorted order, the last (optimizer.lr) varying fastest; log-spaced 1e-4, 1e-3, 1e-2.
  EXPECT_EQ(g[0]["loss.type"], "cross_entropy");
  EXPECT_EQ(g[0]["model.N"], 2);
  EXPECT_NEAR(g[0]["optimizer.lr"].get<double>(), 1e-4, 1e-12);
  EXPECT_NEAR(g[1]["optimizer.lr"].get<double>(), 1e-3, 1e-12);
  EXPECT_NEAR(g[2]["optimizer.lr"].get<double>(), 1e-2, 1e-12);
  EXPECT_EQ(g[3]["model.N"], 3);
  EXPECT_EQ(g[6]["loss.type"], "dice");
  std::set<std::string> distinct;
  for (const json& c : g) distinct.insert(c.dump());
  EXPECT_EQ(distinct.size(), 12u);
  // A range without points cannot be gridded.
  EXPECT_THROW(two_keys().grid(), UsageError);
}

TEST(SearchSpace, SetsDottedKeysInATrainingDocument) {
  json doc = {{"optimizer", {{"type", "adam"}}}, {"epochs", 3}};
  apply_values(doc, json{{"optimizer.lr", 0.01}, {"model.N", 4}, {"epochs", 5}});
  EXPECT_EQ(doc["optimizer"]["type"], "adam");
  EXPECT_EQ(doc["optimizer"]["lr"], 0.01);
  EXPECT_EQ(doc["model"]["N"], 4);
  EXPECT_EQ(doc["epochs"], 5);
  json flat = {{"epochs", 3}};
  EXPECT_THROW(set_dotted(flat, "epochs.x", 1), UsageError);
}

TEST(SearchPlan, SuccessiveHalvingRungsAndPromotions) {
  StrategyConfig st = strategy(
      {{"kind", "successive_halving"}, {"trials", 9}, {"min_steps", 10}, {"max_steps", 90}, {"eta", 3}, {"seed", 4}});
  Plan plan(two_keys(), st);
  ASSERT_EQ(plan.brackets().size(), 1u);
  EXPECT_EQ(plan.brackets()[0].budgets, (std::vector<int64_t>{10, 30, 90}));
  EXPECT_EQ(plan.brackets()[0].keep, (std::vector<int64_t>{9, 3, 1}));
  EXPECT_EQ(plan.jobs_total_upper_bound(), 13);
  EXPECT_EQ(plan.trials()[5].values, two_keys().sample(4, 5));

  // Rung 0: metric = trial / 10, except trial 8 fails and trial 7 scores NaN (class absent).
  std::vector<Job> jobs;
  while (auto j = plan.next_job()) jobs.push_back(*j);
  ASSERT_EQ(jobs.size(), 9u);
  for (const Job& j : jobs) EXPECT_EQ(j.budget, 10);
  for (const Job& j : jobs) {
    RungResult r = ok(double(j.trial) / 10);
    if (j.trial == 8) r.failed = true;
    if (j.trial == 7) r.metric = std::nan("");
    plan.record(j, r);
    if (j.trial < 8) {
      EXPECT_EQ(plan.ready(), 0) << "promoted before the rung completed";
    }
  }
  // The best three that neither failed nor scored NaN: 6, 5, 4, all at 30 steps.
  std::vector<int64_t> next;
  while (auto j = plan.next_job()) {
    EXPECT_EQ(j->budget, 30);
    EXPECT_EQ(j->rung, 1);
    next.push_back(j->trial);
  }
  EXPECT_EQ(next, (std::vector<int64_t>{4, 5, 6}));  // handed out by trial id within a budget
  EXPECT_EQ(plan.status(plan.trials()[8]), "failed");
  EXPECT_EQ(plan.status(plan.trials()[0]), "pruned");
  EXPECT_EQ(plan.status(plan.trials()[4]), "pending");
  plan.record({4, 1, 30}, ok(0.9));
  plan.record({5, 1, 30}, ok(0.2));
  EXPECT_FALSE(plan.next_job());
  plan.record({6, 1, 30}, ok(0.5));
  auto last = plan.next_job();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->trial, 4);
  EXPECT_EQ(last->budget, 90);
  EXPECT_FALSE(plan.finished());
  plan.record(*last, ok(0.95));
  EXPECT_TRUE(plan.finished());
  EXPECT_EQ(plan.status(plan.trials()[4]), "completed");
  EXPECT_EQ(plan.best_trial(), 4);  // the highest budget wins over higher metrics at lower budgets
  EXPECT_THROW(plan.record({3, 2, 90}, ok(1.0)), Error);  // never promoted
}

TEST(SearchPlan, PromotionsDoNotDependOnResultOrder) {
  StrategyConfig st =
      strategy({{"kind", "successive_halving"}, {"trials", 8}, {"min_steps", 2}, {"max_steps", 8}, {"eta", 2}});
  const std::vector<double> metric = {0.3, 0.7, 0.7, 0.1, 0.9, 0.2, 0.5, 0.6};
  auto run = [&](bool reversed) {
    Plan plan(two_keys(), st);
    std::vector<std::vector<int64_t>> admitted;
    while (!plan.finished()) {
      std::vector<Job> jobs;
      while (auto j = plan.next_job()) jobs.push_back(*j);
      std::vector<int64_t> ids;
      for (const Job& j : jobs) ids.push_back(j.trial);
      admitted.push_back(ids);
      if (reversed) std::reverse(jobs.begin(), jobs.end());
      for (const Job& j : jobs) plan.record(j, ok(metric[static_cast<size_t>(j.trial)] + 0.01 * j.rung));
    }
    return admitted;
  };
  const auto a = run(false), b = run(true);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 3u);  // budgets 2, 4, 8 with 8, 4, 2 trials
  // Ties (trials 1 and 2 at 0.7) go to the lower id.
  EXPECT_EQ(a[1], (std::vector<int64_t>{1, 2, 4, 7}));
  EXPECT_EQ(a[2], (std::vector<int64_t>{1, 4}));
}

TEST(SearchPlan, HyperbandBracketsFollowLiEtAl) {
  // R = 90 / 10 = 9, eta = 3: s_max = 2; brackets of ceil(3/(s+1) 3^s) = 9, 5, 3 trials.
  Plan plan(two_keys(), strategy({{"kind", "hyperband"}, {"min_steps", 10}, {"max_steps", 90}, {"eta", 3}}));
  ASSERT_EQ(plan.brackets().size(), 3u);
  EXPECT_EQ(plan.brackets()[0].budgets, (std::vector<int64_t>{10, 30, 90}));
  EXPECT_EQ(plan.brackets()[0].keep, (std::vector<int64_t>{9, 3, 1}));
  EXPECT_EQ(plan.brackets()[1].budgets, (std::vector<int64_t>{30, 90}));
  EXPECT_EQ(plan.brackets()[1].keep, (std::vector<int64_t>{5, 1}));
  EXPECT_EQ(plan.brackets()[2].budgets, (std::vector<int64_t>{90}));
  EXPECT_EQ(plan.brackets()[2].keep, (std::vector<int64_t>{3}));
  EXPECT_EQ(plan.trials().size(), 17u);
  EXPECT_EQ(plan.budgets(), (std::vector<int64_t>{10, 30, 90}));
  // Longest jobs first: the three 90-step trials of the last bracket (ids 14, 15, 16).
  auto j = plan.next_job();
  ASSERT_TRUE(j);
  EXPECT_EQ(j->budget, 90);
  EXPECT_EQ(j->trial, 14);
}

TEST(SearchPlan, StrategyErrors) {
  auto bad = [](const json& j) { EXPECT_THROW(StrategyConfig::from_json(j), UsageError) << j.dump(); };
  bad({{"kind", "bayes"}});
  bad({{"kind", "random"}, {"trials", 4}});  // no steps
  bad({{"kind", "successive_halving"}, {"min_steps", 10}, {"max_steps", 5}});
  bad({{"kind", "successive_halving"}, {"min_steps", 1}, {"max_steps", 5}, {"eta", 1}});
  bad({{"kind", "grid"}, {"steps", 5}, {"trails", 3}});
  bad({{"kind", "grid"}, {"steps", "5"}});
  Plan grid(SearchSpace::from_json(json{{"loss.type", {{"choices", {"dice", "jaccard"}}}}}),
            strategy({{"kind", "grid"}, {"steps", 5}}));
  EXPECT_EQ(grid.trials().size(), 2u);
  EXPECT_EQ(grid.trials()[1].values["loss.type"], "jaccard");
}

TEST(SearchMetric, ReadsTheChosenIoUFromAConfusionMatrix) {
  // Truth and prediction over 2 rows x 4 columns, rows weighted 1 and 3 (areas).
  const int32_t truth[8] = {0, 1, 1, 2, 0, 0, 2, 2};
  const int32_t pred[8] = {0, 1, 0, 2, 0, 1, 2, 0};
  training::ConfusionMatrix cm(3);
  cm.add(pred, truth, 2, 4, {1.0, 3.0});
  const json v = cm.to_json({"Background", "Tropical Cyclone", "Atmospheric River"});
  // Pixels: class 1 TP 1, FP 1 (row 1), FN 1 -> 1/3; class 2 TP 2, FN 1 -> 2/3; background TP 2,
  // FP 2, FN 1 -> 2/5.
  MetricSpec events;
  EXPECT_NEAR(events.extract(v), (1.0 / 3 + 2.0 / 3) / 2, 1e-12);
  MetricSpec all{"all", "pixels"};
  EXPECT_NEAR(all.extract(v), (0.4 + 1.0 / 3 + 2.0 / 3) / 3, 1e-12);
  // Area-weighted class 1: TP 1 (row 0), FP 3 (row 1), FN 1 (row 0) -> 1/5.
  MetricSpec tc{"Tropical Cyclone", "area"};
  EXPECT_NEAR(tc.extract(v), 0.2, 1e-12);
  MetricSpec missing{"Waves", "pixels"};
  EXPECT_THROW(missing.extract(v), UsageError);
  EXPECT_THROW(MetricSpec::from_json(json{{"weighting", "cells"}}), UsageError);
  EXPECT_THROW(MetricSpec::from_json(json{{"klass", "events"}}), UsageError);
}
