// The search runner: groups of ranks, a scheduler on world rank 0, jobs trained with
// training::train on the group's communicator, results logged for resumption, the table, the best
// model and the pictures.
#include "models/search/search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <fstream>
#include <optional>
#include <thread>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "core/timer.hpp"
#include "models/search/report.hpp"
#include "models/training/trainer.hpp"

namespace climseg::search {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kTagRequest = 901;  // leader -> scheduler: {"group", "job"?, "result"?}
constexpr int kTagReply = 902;    // scheduler -> leader: {"job", "train"} or {"done": true}

// The scheduler sleeps between polls instead of spinning: an idle rank must not take the cores of
// the groups that train (several ranks per node, ranks oversubscribed in tests).
void nap() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

class ScopedLogLevel {
 public:
  explicit ScopedLogLevel(log::Level level) : old_(log::level()) { log::set_level(level); }
  ~ScopedLogLevel() { log::set_level(old_); }
  ScopedLogLevel(const ScopedLogLevel&) = delete;
  ScopedLogLevel& operator=(const ScopedLogLevel&) = delete;

 private:
  log::Level old_;
};

RungResult result_from_json(const json& j) {
  RungResult r;
  r.steps = j.value("steps", int64_t{0});
  r.metric = j.contains("metric") && j["metric"].is_number() ? j["metric"].get<double>()
                                                             : std::numeric_limits<double>::quiet_NaN();
  r.failed = j.value("failed", false);
  r.message = j.value("message", std::string());
  r.wall_s = j.value("wall_s", 0.0);
  r.group = j.value("group", -1);
  return r;
}

json read_json_file(const fs::path& p, const std::string& what) {
  if (!fs::exists(p)) fail_usage("{}: no such file ({})", p.string(), what);
  try {
    return json::parse(read_file(p));
  } catch (const json::exception& e) {
    fail_usage("{}: {} is not valid JSON: {}", p.string(), what, e.what());
  }
}

// Copies a file to `dest` atomically (temporary name, fsync, rename).
void copy_atomically(const fs::path& from, const fs::path& dest) {
  AtomicOutput out(dest);
  fs::copy_file(from, out.temp_path(), fs::copy_options::overwrite_existing);
  out.commit();
}

// World rank 0's side: the plan, the results file and the groups waiting for work.
class Scheduler {
 public:
  Scheduler(const SearchConfig& config, const SearchOptions& options, const Comm* comm, int groups,
            log::Level user_level)
      : config_(config),
        options_(options),
        comm_(comm),
        groups_(groups),
        user_level_(user_level),
        plan_(config.space, config.strategy),
        out_(config.out_dir) {}

  Plan& plan() { return plan_; }

  // Creates out_dir, or checks that it holds this search, and replays its results.
  void open() {
    fs::create_directories(out_);
    const fs::path cfg_path = out_ / "search.json";
    const json mine = config_.to_json();
    if (fs::exists(cfg_path)) {
      if (read_json_file(cfg_path, "the search config") != mine)
        fail_usage(
            "{}: out_dir holds a different search (space, strategy, metric, group_size or training config "
            "differ); use another out_dir or remove it",
            out_.string());
    } else {
      write_file_atomically(cfg_path, mine.dump(2) + "\n");
    }
    const fs::path results = out_ / "results.jsonl";
    if (fs::exists(results)) {
      std::ifstream in(results);
      std::string line, kept;
      int64_t n = 0;
      while (std::getline(in, line)) {
        json j;
        try {
          j = json::parse(line);
        } catch (const json::exception&) {
          continue;  // a torn last line of a killed run
        }
        const Job job{j.at("trial").get<int64_t>(), j.at("rung").get<int>(), 0};
        plan_.record(job, result_from_json(j));
        kept += line + "\n";
        ++n;
      }
      // Rewritten without a torn line, so that appends start on a fresh line.
      write_file_atomically(results, kept);
      if (n > 0) log::info("search: resuming {} with {} finished jobs", out_.string(), n);
    }
    // Counts this run's jobs (halving decides how many; the bound assumes full rungs).
    progress_.emplace("search", plan_.jobs_total_upper_bound() - plan_.done_jobs());
  }

  // Receives requests and results, and answers the groups waiting for work. Called between the
  // training steps of rank 0's own group, and in a loop while that group waits.
  void service() {
    ScopedLogLevel level(user_level_);
    while (comm_->is_mpi()) {
      const int source = comm_->probe(Comm::kAnySource, kTagRequest);
      if (source < 0) break;
      int from = -1;
      const json m = json::parse(comm_->recv_string(source, kTagRequest, &from));
      if (m.contains("result")) on_result(Job::from_json(m["job"]), result_from_json(m["result"]));
      waiting_.push_back(from);
    }
    while (!waiting_.empty()) {
      std::string reply;
      if (!next_message(reply)) break;
      comm_->send_string(waiting_.front(), kTagReply, reply);
      if (json::parse(reply).contains("done")) ++done_sent_;
      waiting_.pop_front();
    }
  }

  // Rank 0's own group: records its result, then waits (serving the others) for its next job.
  std::string next_for_self(const std::optional<std::pair<Job, RungResult>>& result) {
    if (result) {
      ScopedLogLevel level(user_level_);
      on_result(result->first, result->second);
    }
    while (true) {
      service();
      std::string reply;
      if (next_message(reply)) return reply;
      nap();
    }
  }

  // After rank 0's group is done: serve until every other group has been told it is done.
  void drain() {
    while (done_sent_ < groups_ - 1) {
      service();
      if (done_sent_ < groups_ - 1) nap();
    }
  }

  // Table, best model and pictures (also for a stopped search: the table so far).
  void finish(SearchSummary& summary) {
    ScopedLogLevel level(user_level_);
    if (progress_) progress_->finish();
    write_table(true);
    summary.complete = plan_.finished();
    summary.trials = static_cast<int64_t>(plan_.trials().size());
    summary.jobs_done = plan_.done_jobs();
    summary.jobs_this_run = jobs_this_run_;
    summary.table_csv = out_ / "trials.csv";
    summary.table_jsonl = out_ / "trials.jsonl";
    for (const Trial& t : plan_.trials()) {
      if (t.failed()) ++summary.failed;
      const int k = t.last_result();
      if (k >= 0) summary.total_steps += t.rungs[static_cast<size_t>(k)]->steps;
    }
    if (const auto best = plan_.best_trial()) {
      const Trial& t = plan_.trials()[static_cast<size_t>(*best)];
      summary.best = trial_row(plan_, t, config_);
      if (summary.complete) {
        fs::create_directories(out_ / "best");
        summary.best_checkpoint = out_ / "best" / "model.h5";
        summary.best_config = out_ / "best" / "train.json";
        copy_atomically(config_.trial_dir(t.id) / "last.h5", summary.best_checkpoint);
        const int64_t steps = t.rungs[static_cast<size_t>(t.last_result())]->steps;
        json doc = config_.trial_train_doc(t, steps);
        doc["checkpoint_dir"] = "checkpoints";
        doc["resume"] = "";
        write_file_atomically(summary.best_config, doc.dump(2) + "\n");
        write_file_atomically(out_ / "best" / "trial.json", summary.best.dump(2) + "\n");
      }
    }
    write_plots(plan_, config_, out_ / "plots");
  }

 private:
  // The reply for the next waiting group: a job, "done", or false when it has to wait.
  bool next_message(std::string& reply) {
    if (!stopping_) {
      if (auto job = plan_.next_job()) {
        const Trial& t = plan_.trials()[static_cast<size_t>(job->trial)];
        reply = json{{"job", job->to_json()}, {"train", config_.trial_train_doc(t, job->budget)}}.dump();
        ++jobs_this_run_;
        if (options_.stop_after_jobs > 0 && jobs_this_run_ >= options_.stop_after_jobs) stopping_ = true;
        return true;
      }
    }
    if (stopping_ || plan_.finished()) {
      reply = json{{"done", true}}.dump();
      return true;
    }
    return false;
  }

  void on_result(const Job& job, const RungResult& r) {
    plan_.record(job, r);
    const fs::path results = out_ / "results.jsonl";
    {
      std::ofstream f(results, std::ios::app);
      f << r.to_json(job.trial, job.rung).dump() << "\n";
      f.flush();
      if (!f) fail("{}: cannot append a result", results.string());
    }
    fsync_path(results);
    if (r.failed)
      log::warn("search: trial {} failed at rung {} ({} steps) on group {}: {}", job.trial, job.rung, job.budget,
                r.group, r.message);
    else
      log::info("search: trial {} rung {} ({} steps): {} {:.4f} in {:.1f} s on group {}", job.trial, job.rung, r.steps,
                config_.metric.describe(), r.metric, r.wall_s, r.group);
    if (progress_) progress_->advance(1, fmt::format("{} running, {} ready", plan_.running(), plan_.ready()));
    write_table(false);
  }

  // The table is rewritten at most every 10 s while running (it is a view; results.jsonl is the state).
  void write_table(bool force) {
    if (!force && table_clock_.seconds() < 10) return;
    table_clock_.reset();
    write_file_atomically(out_ / "trials.csv", table_csv(plan_, config_));
    write_file_atomically(out_ / "trials.jsonl", table_jsonl(plan_, config_));
  }

  const SearchConfig& config_;
  const SearchOptions& options_;
  const Comm* comm_;  // the scheduler's own duplicate of world
  int groups_;
  log::Level user_level_;
  Plan plan_;
  fs::path out_;
  std::optional<Progress> progress_;
  std::deque<int> waiting_;  // world ranks of group leaders waiting for a reply
  int done_sent_ = 0;
  int64_t jobs_this_run_ = 0;
  bool stopping_ = false;
  Stopwatch table_clock_;
};

// Trains one job on the group; every rank of the group returns the same result.
RungResult run_job(const Job& job, const json& doc, const SearchConfig& config, const SearchOptions& options,
                   const Comm& group, int group_id, const std::function<void()>& poll) {
  Stopwatch clock;
  RungResult r;
  r.group = group_id;
  std::string error;
  training::TrainConfig cfg;
  try {
    cfg = training::TrainConfig::from_json(doc);
    if (options.before_job) options.before_job(job);
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  }
  // A failure before training (on any rank) is agreed on before the group enters its collectives.
  if (!group.any(!error.empty())) {
    try {
      // A trial's own progress and info lines would drown the search's; warnings stay.
      std::optional<ScopedLogLevel> quiet;
      if (log::level() == log::Level::info) quiet.emplace(log::Level::warn);
      training::TrainHooks hooks;
      if (poll) hooks.on_step = [&](int64_t) { poll(); };
      hooks.validate_when_done = true;
      training::TrainResult tr = training::train(cfg, group, hooks);
      r.steps = tr.steps;
      if (tr.last_validation.is_null()) fail("no validation samples (set data.val or data.val_fraction)");
      r.metric = config.metric.extract(tr.last_validation);
      if (tr.steps < job.budget)
        r.message =
            fmt::format("the schedule ends at step {}, before the budget of {} (raise epochs)", tr.steps, job.budget);
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    }
  }
  // Every rank of the group agrees: the trial failed when it failed anywhere, with the first message.
  if (group.any(!error.empty())) {
    const std::vector<std::string> all = group.allgather(error);
    for (size_t k = 0; k < all.size(); ++k)
      if (!all[k].empty()) {
        r.message = group.size() > 1 ? fmt::format("[group rank {}] {}", k, all[k]) : all[k];
        break;
      }
    r.failed = true;
    r.metric = std::numeric_limits<double>::quiet_NaN();
  }
  r.wall_s = group.max(clock.seconds());
  return r;
}

}  // namespace

MetricSpec MetricSpec::from_json(const json& j) {
  if (!j.is_object()) fail_usage("search config: 'metric' must be an object, got {}", j.dump());
  MetricSpec m;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "class" && it.key() != "weighting")
      fail_usage("search config: unknown key 'metric.{}' (known: class, weighting)", it.key());
    if (!it->is_string()) fail_usage("search config: 'metric.{}' must be a string, got {}", it.key(), it->dump());
  }
  m.target = j.value("class", m.target);
  m.weighting = j.value("weighting", m.weighting);
  if (m.weighting != "pixels" && m.weighting != "area")
    fail_usage("search config: 'metric.weighting' must be pixels or area, got '{}'", m.weighting);
  return m;
}

json MetricSpec::to_json() const { return {{"class", target}, {"weighting", weighting}}; }

double MetricSpec::extract(const json& v) const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const json& block = v.at(weighting == "area" ? "area_weighted" : "pixels");
  const json* x = nullptr;
  if (target == "events")
    x = &block.at("event_mean_iou");
  else if (target == "all")
    x = &block.at("mean_iou");
  else if (block.at("iou").contains(target))
    x = &block.at("iou").at(target);
  else
    fail_usage("search metric: no class '{}' in the validation (classes: {})", target, v.at("classes").dump());
  return x->is_number() ? x->get<double>() : nan;
}

std::string MetricSpec::describe() const {
  const std::string what = target == "events" ? "event mean IoU" : target == "all" ? "mean IoU" : target + " IoU";
  return weighting == "area" ? what + " (area-weighted)" : what;
}

SearchConfig SearchConfig::from_json(const json& j, const fs::path& base_dir) {
  if (!j.is_object()) fail_usage("search config: must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "train" && it.key() != "space" && it.key() != "strategy" && it.key() != "metric" &&
        it.key() != "group_size" && it.key() != "out_dir")
      fail_usage("search config: unknown key '{}' (known: train, space, strategy, metric, group_size, out_dir)",
                 it.key());
  SearchConfig c;
  if (j.contains("train")) {
    const json& t = j["train"];
    if (t.is_string()) {
      fs::path p = t.get<std::string>();
      if (p.is_relative()) p = base_dir / p;
      c.train = read_json_file(p, "the training config");
    } else if (t.is_object()) {
      c.train = t;
    } else {
      fail_usage("search config: 'train' must be a training config file or object, got {}", t.dump());
    }
  } else {
    c.train = json::object();
  }
  c.space = SearchSpace::from_json(j.value("space", json::object()));
  c.strategy = StrategyConfig::from_json(j.value("strategy", json::object()));
  c.metric = MetricSpec::from_json(j.value("metric", json::object()));
  try {
    c.group_size = j.value("group_size", 1);
    c.out_dir = j.value("out_dir", std::string("search"));
  } catch (const json::exception&) {
    fail_usage("search config: 'group_size' must be an integer and 'out_dir' a string");
  }
  if (c.group_size < 1) fail_usage("search config: 'group_size' must be >= 1, got {}", c.group_size);
  // Every trial's training config must parse: a typo in the space fails here, not hours later.
  Plan plan(c.space, c.strategy);
  if (plan.trials().empty()) fail_usage("search config: the search has no trials");
  for (const Trial& t : plan.trials()) {
    try {
      training::TrainConfig::from_json(c.trial_train_doc(t, 1));
    } catch (const UsageError& e) {
      fail_usage("search trial {} ({}): {}", t.id, t.values.dump(), e.what());
    }
  }
  return c;
}

json SearchConfig::to_json() const {
  return {{"train", train},
          {"space", space.to_json()},
          {"strategy", strategy.to_json()},
          {"metric", metric.to_json()},
          {"group_size", group_size}};
}

fs::path SearchConfig::trial_dir(int64_t trial) const {
  return fs::path(out_dir) / "trials" / fmt::format("trial-{:04}", trial);
}

json SearchConfig::trial_train_doc(const Trial& t, int64_t budget) const {
  json doc = train;
  apply_values(doc, t.values);
  doc["checkpoint_dir"] = trial_dir(t.id).string();
  doc["resume"] = "auto";
  doc["max_steps"] = budget;
  // One validation per rung, at its end (the trainer always validates after its last step).
  doc["validate_every"] = budget;
  return doc;
}

json SearchSummary::to_json() const {
  return {{"complete", complete},
          {"trials", trials},
          {"jobs_done", jobs_done},
          {"jobs_this_run", jobs_this_run},
          {"failed", failed},
          {"total_steps", total_steps},
          {"wall_s", wall_s},
          {"best", best},
          {"table_csv", table_csv.string()},
          {"table_jsonl", table_jsonl.string()},
          {"best_checkpoint", best_checkpoint.string()},
          {"best_config", best_config.string()}};
}

SearchSummary run_search(const SearchConfig& config, const Comm& world, const SearchOptions& options) {
  Stopwatch clock;
  const int G = config.group_size;
  if (world.size() % G != 0)
    fail_usage("search: {} ranks cannot form groups of {} (group_size must divide the number of ranks)", world.size(),
               G);
  const int groups = world.size() / G, group_id = world.rank() / G;
  const OwnedComm group = world.split(group_id, world.rank());
  const OwnedComm sched_comm = world.dup();
  const bool leader = group.rank() == 0;
  const log::Level user_level = log::level();

  std::optional<Scheduler> sched;
  std::string setup_error;
  if (world.is_root()) {
    sched.emplace(config, options, &sched_comm.comm(), groups, user_level);
    try {
      sched->open();
    } catch (const std::exception& e) {
      setup_error = e.what();
    }
  }
  world.broadcast(setup_error);
  if (!setup_error.empty()) throw UsageError(setup_error);
  if (world.is_root())
    log::info("search: {} trials ({}), {} group{} of {} rank{}, results in {}", sched->plan().trials().size(),
              config.strategy.kind, groups, groups > 1 ? "s" : "", G, G > 1 ? "s" : "", config.out_dir);

  std::optional<std::pair<Job, RungResult>> mine;  // this group's last result (leaders only)
  std::function<void()> poll;
  if (world.is_root()) poll = [&] { sched->service(); };
  while (true) {
    std::string msg;
    if (world.is_root()) {
      msg = sched->next_for_self(mine);
    } else if (leader) {
      json req = {{"group", group_id}};
      if (mine) {
        req["job"] = mine->first.to_json();
        req["result"] = mine->second.to_json(mine->first.trial, mine->first.rung);
      }
      sched_comm.comm().send_string(0, kTagRequest, req.dump());
      msg = sched_comm.comm().recv_string(0, kTagReply);
    }
    // The group leader's string to every rank of the group (the others sleep while they wait).
    group.comm().broadcast_sleeping(msg);
    const json m = json::parse(msg);
    if (m.contains("done")) break;
    const Job job = Job::from_json(m["job"]);
    RungResult r = run_job(job, m["train"], config, options, group, group_id, poll);
    mine.emplace(job, r);
  }

  SearchSummary summary;
  if (world.is_root()) {
    sched->drain();
    summary.wall_s = clock.seconds();
    sched->finish(summary);
  }
  // Every rank returns rank 0's summary (the others sleep until rank 0 has written it).
  sched_comm.comm().barrier_sleeping();
  std::string s = world.is_root() ? summary.to_json().dump() : std::string();
  world.broadcast(s);
  if (!world.is_root()) {
    const json j = json::parse(s);
    summary.complete = j["complete"].get<bool>();
    summary.trials = j["trials"].get<int64_t>();
    summary.jobs_done = j["jobs_done"].get<int64_t>();
    summary.jobs_this_run = j["jobs_this_run"].get<int64_t>();
    summary.failed = j["failed"].get<int64_t>();
    summary.total_steps = j["total_steps"].get<int64_t>();
    summary.wall_s = j["wall_s"].get<double>();
    summary.best = j["best"];
    summary.table_csv = j["table_csv"].get<std::string>();
    summary.table_jsonl = j["table_jsonl"].get<std::string>();
    summary.best_checkpoint = j["best_checkpoint"].get<std::string>();
    summary.best_config = j["best_config"].get<std::string>();
  }
  return summary;
}

}  // namespace climseg::search
