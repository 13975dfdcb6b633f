// Trials, rungs and promotions of a search.
#include "models/search/plan.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace climseg::search {
using nlohmann::json;

namespace {

// Rung budgets max / eta^(s - k), k = 0..s, the last exactly max.
std::vector<int64_t> rung_budgets(int64_t max_steps, int64_t eta, int s) {
  std::vector<int64_t> b;
  for (int k = 0; k <= s; ++k)
    b.push_back(std::max<int64_t>(1, std::llround(static_cast<double>(max_steps) / std::pow(double(eta), s - k))));
  return b;
}

// The largest s with max / eta^s >= min.
int halvings(int64_t min_steps, int64_t max_steps, int64_t eta) {
  int s = 0;
  double b = static_cast<double>(max_steps);
  while (b / static_cast<double>(eta) >= static_cast<double>(min_steps) - 1e-9) {
    b /= static_cast<double>(eta);
    ++s;
  }
  return s;
}

}  // namespace

StrategyConfig StrategyConfig::from_json(const json& j) {
  if (!j.is_object()) fail_usage("search config: 'strategy' must be an object, got {}", j.dump());
  StrategyConfig s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    try {
      if (k == "kind")
        s.kind = it->get<std::string>();
      else if (k == "trials")
        s.trials = it->get<int64_t>();
      else if (k == "steps")
        s.steps = it->get<int64_t>();
      else if (k == "min_steps")
        s.min_steps = it->get<int64_t>();
      else if (k == "max_steps")
        s.max_steps = it->get<int64_t>();
      else if (k == "eta")
        s.eta = it->get<int64_t>();
      else if (k == "seed")
        s.seed = it->get<uint64_t>();
      else
        fail_usage(
            "search config: unknown key 'strategy.{}' (known: kind, trials, steps, min_steps, max_steps, eta, "
            "seed)",
            k);
    } catch (const json::exception&) {
      fail_usage("search config: 'strategy.{}' has the wrong type: {}", k, it->dump());
    }
  }
  if (s.kind != "grid" && s.kind != "random" && s.kind != "successive_halving" && s.kind != "hyperband")
    fail_usage("search config: 'strategy.kind' must be one of grid, random, successive_halving, hyperband, got '{}'",
               s.kind);
  if (s.kind == "grid" || s.kind == "random") {
    if (s.steps < 1) fail_usage("search config: strategy '{}' needs 'strategy.steps' >= 1 (steps per trial)", s.kind);
  } else {
    if (s.min_steps < 1 || s.max_steps < s.min_steps)
      fail_usage("search config: strategy '{}' needs 1 <= strategy.min_steps <= strategy.max_steps, got {} and {}",
                 s.kind, s.min_steps, s.max_steps);
    if (s.eta < 2) fail_usage("search config: 'strategy.eta' must be >= 2, got {}", s.eta);
  }
  if (s.kind != "grid" && s.kind != "hyperband" && s.trials < 1)
    fail_usage("search config: 'strategy.trials' must be >= 1, got {}", s.trials);
  return s;
}

json StrategyConfig::to_json() const {
  return {{"kind", kind},           {"trials", trials}, {"steps", steps}, {"min_steps", min_steps},
          {"max_steps", max_steps}, {"eta", eta},       {"seed", seed}};
}

json RungResult::to_json(int64_t trial, int rung) const {
  return {{"trial", trial},   {"rung", rung},
          {"steps", steps},   {"metric", std::isfinite(metric) ? json(metric) : json(nullptr)},
          {"failed", failed}, {"message", message},
          {"wall_s", wall_s}, {"group", group}};
}

bool Trial::failed() const {
  for (const auto& r : rungs)
    if (r && r->failed) return true;
  return false;
}

int Trial::last_result() const {
  for (int k = static_cast<int>(rungs.size()) - 1; k >= 0; --k)
    if (rungs[static_cast<size_t>(k)]) return k;
  return -1;
}

json Job::to_json() const { return {{"trial", trial}, {"rung", rung}, {"budget", budget}}; }

Job Job::from_json(const json& j) {
  return Job{j.at("trial").get<int64_t>(), j.at("rung").get<int>(), j.at("budget").get<int64_t>()};
}

Plan::Plan(const SearchSpace& space, const StrategyConfig& s) {
  std::vector<json> values;
  std::vector<int> bracket_of;
  if (s.kind == "grid") {
    values = space.grid();
    brackets_.push_back({{s.steps}, {static_cast<int64_t>(values.size())}});
    bracket_of.assign(values.size(), 0);
  } else if (s.kind == "random" || s.kind == "successive_halving") {
    Bracket b;
    if (s.kind == "random") {
      b.budgets = {s.steps};
    } else {
      b.budgets = rung_budgets(s.max_steps, s.eta, halvings(s.min_steps, s.max_steps, s.eta));
    }
    b.keep = {s.trials};
    for (size_t k = 1; k < b.budgets.size(); ++k) b.keep.push_back(std::max<int64_t>(1, b.keep.back() / s.eta));
    brackets_.push_back(b);
    for (int64_t t = 0; t < s.trials; ++t) {
      values.push_back(space.sample(s.seed, t));
      bracket_of.push_back(0);
    }
  } else {  // hyperband (Li et al. 2018): brackets from the most aggressive halving to none
    const int s_max = halvings(s.min_steps, s.max_steps, s.eta);
    for (int sb = s_max; sb >= 0; --sb) {
      Bracket b;
      b.budgets = rung_budgets(s.max_steps, s.eta, sb);
      const double n = std::ceil(double(s_max + 1) / double(sb + 1) * std::pow(double(s.eta), sb) - 1e-9);
      for (int k = 0; k <= sb; ++k)
        b.keep.push_back(std::max<int64_t>(1, static_cast<int64_t>(n / std::pow(double(s.eta), k) + 1e-9)));
      for (int64_t t = 0; t < b.keep[0]; ++t) {
        values.push_back(space.sample(s.seed, static_cast<int64_t>(values.size())));
        bracket_of.push_back(static_cast<int>(brackets_.size()));
      }
      brackets_.push_back(b);
    }
  }
  members_.resize(brackets_.size());
  for (size_t b = 0; b < brackets_.size(); ++b) members_[b].resize(brackets_[b].budgets.size());
  for (size_t t = 0; t < values.size(); ++t) {
    Trial tr;
    tr.id = static_cast<int64_t>(t);
    tr.bracket = bracket_of[t];
    tr.values = values[t];
    tr.rungs.resize(brackets_[static_cast<size_t>(tr.bracket)].budgets.size());
    trials_.push_back(std::move(tr));
  }
  for (const Trial& t : trials_) admit(t.id, 0);
}

std::vector<int64_t> Plan::budgets() const {
  std::vector<int64_t> all;
  for (const Bracket& b : brackets_) all.insert(all.end(), b.budgets.begin(), b.budgets.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

int64_t Plan::jobs_total_upper_bound() const {
  int64_t n = 0;
  for (const Bracket& b : brackets_)
    for (int64_t k : b.keep) n += k;
  return n;
}

void Plan::admit(int64_t trial, int rung) {
  Trial& t = trials_[static_cast<size_t>(trial)];
  t.reached = rung;
  members_[static_cast<size_t>(t.bracket)][static_cast<size_t>(rung)].push_back(trial);
  ready_.push_back(Job{trial, rung, brackets_[static_cast<size_t>(t.bracket)].budgets[static_cast<size_t>(rung)]});
}

std::optional<Job> Plan::next_job() {
  if (ready_.empty()) return std::nullopt;
  auto it = std::min_element(ready_.begin(), ready_.end(), [](const Job& a, const Job& b) {
    return a.budget != b.budget ? a.budget > b.budget : a.trial < b.trial;
  });
  Job j = *it;
  ready_.erase(it);
  running_.push_back(j);
  return j;
}

void Plan::record(const Job& job, const RungResult& result) {
  auto same = [&](const Job& j) { return j.trial == job.trial && j.rung == job.rung; };
  auto it = std::find_if(running_.begin(), running_.end(), same);
  std::vector<Job>* from = &running_;
  if (it == running_.end()) {
    it = std::find_if(ready_.begin(), ready_.end(), same);
    from = &ready_;
    if (it == ready_.end())
      fail(
          "search: a result for trial {} rung {} that this search never scheduled (a results file of another "
          "search?)",
          job.trial, job.rung);
  }
  from->erase(it);
  Trial& t = trials_[static_cast<size_t>(job.trial)];
  t.rungs[static_cast<size_t>(job.rung)] = result;
  ++done_jobs_;
  maybe_promote(t.bracket, job.rung);
}

void Plan::maybe_promote(int bracket, int rung) {
  const Bracket& b = brackets_[static_cast<size_t>(bracket)];
  if (static_cast<size_t>(rung) + 1 >= b.budgets.size()) return;
  const auto& here = members_[static_cast<size_t>(bracket)][static_cast<size_t>(rung)];
  if (static_cast<int64_t>(here.size()) < b.keep[static_cast<size_t>(rung)]) return;  // not all admitted yet
  std::vector<int64_t> candidates;
  for (int64_t id : here) {
    const auto& r = trials_[static_cast<size_t>(id)].rungs[static_cast<size_t>(rung)];
    if (!r) return;  // the rung is not complete
    if (!r->failed && std::isfinite(r->metric)) candidates.push_back(id);
  }
  if (!members_[static_cast<size_t>(bracket)][static_cast<size_t>(rung) + 1].empty()) return;
  std::sort(candidates.begin(), candidates.end(), [&](int64_t a, int64_t c) {
    const double ma = trials_[static_cast<size_t>(a)].rungs[static_cast<size_t>(rung)]->metric;
    const double mc = trials_[static_cast<size_t>(c)].rungs[static_cast<size_t>(rung)]->metric;
    return ma != mc ? ma > mc : a < c;
  });
  const size_t n = std::min(candidates.size(), static_cast<size_t>(b.keep[static_cast<size_t>(rung) + 1]));
  for (size_t i = 0; i < n; ++i) admit(candidates[i], rung + 1);
}

std::string Plan::status(const Trial& t) const {
  if (t.failed()) return "failed";
  const int last = static_cast<int>(brackets_[static_cast<size_t>(t.bracket)].budgets.size()) - 1;
  if (t.rungs[static_cast<size_t>(last)]) return "completed";
  if (t.reached < 0 || !t.rungs[static_cast<size_t>(t.reached)]) return "pending";
  for (int64_t id : members_[static_cast<size_t>(t.bracket)][static_cast<size_t>(t.reached)])
    if (!trials_[static_cast<size_t>(id)].rungs[static_cast<size_t>(t.reached)]) return "pending";
  return "pruned";
}

bool Plan::finished() const { return ready_.empty() && running_.empty(); }

std::optional<int64_t> Plan::best_trial() const {
  std::optional<int64_t> best;
  int64_t best_budget = -1;
  double best_metric = 0;
  for (const Trial& t : trials_) {
    const int k = t.last_result();
    if (k < 0) continue;
    const RungResult& r = *t.rungs[static_cast<size_t>(k)];
    if (r.failed || !std::isfinite(r.metric)) continue;
    const int64_t budget = brackets_[static_cast<size_t>(t.bracket)].budgets[static_cast<size_t>(k)];
    if (!best || budget > best_budget || (budget == best_budget && r.metric > best_metric)) {
      best = t.id;
      best_budget = budget;
      best_metric = r.metric;
    }
  }
  return best;
}

}  // namespace climseg::search
