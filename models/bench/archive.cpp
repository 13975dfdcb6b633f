// The predict and label pipelines over a whole archive, timed step by step.
#include "models/bench/archive.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/stage_times.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "models/pipelines/label.hpp"
#include "models/synth/archive.hpp"
#include "models/training/predict_config.hpp"
#include "readers/archive.hpp"

namespace climseg::bench {
namespace fs = std::filesystem;

namespace {

// User plus system seconds of every thread of this process so far.
double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::vector<pipelines::Detector> detectors_of(const std::string& job) {
  std::vector<pipelines::Detector> out;
  for (size_t a = 0, b; a <= job.size(); a = b + 1) {
    b = std::min(job.find(',', a), job.size());
    const std::string name = job.substr(a, b - a);
    if (name == "tc") {
      out.push_back(pipelines::Detector::tc);
    } else if (name == "ar") {
      out.push_back(pipelines::Detector::ar);
    } else if (name == "waves") {
      out.push_back(pipelines::Detector::waves);
    } else {
      fail_usage("--jobs {}: expected predict or label detectors (tc, ar, waves joined by commas)", job);
    }
  }
  return out;
}

}  // namespace

ArchiveBench::ArchiveBench(const ArchiveBenchOptions& o, const Comm& comm) : o_(o), comm_(comm) {
  if (o_.files < 1 || o_.steps_per_file < 1) fail_usage("--files and --steps-per-file must be >= 1");
  if (o_.height < 16 || o_.width < 16) fail_usage("--grid {}x{}: at least 16x16", o_.height, o_.width);
  if (o_.deflate < 1 || o_.deflate > 9) fail_usage("--deflate {}: expected 1..9", o_.deflate);
  for (const std::string& job : o_.jobs)
    if (job != "predict") detectors_of(job);
  if (std::find(o_.jobs.begin(), o_.jobs.end(), "predict") != o_.jobs.end() && !fs::exists(o_.model))
    fail_usage("--model {}: not found (ClimateNet's weights, cgnet_climatenet.h5, or a climseg checkpoint)", o_.model);
  temporary_ = o_.dir.empty();
  std::string work =
      temporary_ ? (fs::temp_directory_path() / fmt::format("climseg-bench-archive-{}", ::getpid())).string() : o_.dir;
  comm_.broadcast(work);  // one folder for every rank
  work_ = work;
  if (comm_.is_root()) fs::create_directories(work_);
  comm_.barrier();
  try {
    prepare();
  } catch (...) {
    std::error_code ec;
    if (temporary_ && comm_.is_root()) fs::remove_all(work_, ec);
    throw;
  }
}

void ArchiveBench::prepare() {
  if (!o_.in.empty()) {
    if (!fs::exists(o_.in)) fail_usage("--in {}: not found", o_.in);
    archive_ = o_.in;
  } else {
    synth::SynthConfig sc;
    sc.height = o_.height;
    sc.width = o_.width;
    sc.steps = o_.files * o_.steps_per_file;
    sc.steps_per_file = o_.steps_per_file;
    sc.hours = 3.0;  // CAM5 h2: 3-hourly, as ClimateNet's inputs
    sc.deflate_level = o_.deflate;
    sc.seed = 20;
    archive_ = (work_ / "archive").string();
    log::info("bench archive: writing {} file(s) of {} {}x{} steps (deflate {}) under {}", o_.files, o_.steps_per_file,
              o_.height, o_.width, o_.deflate, archive_);
    synth::write_archive(sc, archive_, comm_, false);
  }
  io::ArchiveOptions probe;
  probe.channels = {io::ChannelSpec::parse("PSL")};
  probe.comm = comm_;
  const io::Archive a = io::Archive::open({archive_}, probe);
  steps_ = a.size();
  files_ = int64_t(a.files().size());
  height_ = a.grid().height();
  width_ = a.grid().width();
}

ArchiveBench::~ArchiveBench() {
  if (!temporary_) return;
  comm_.barrier();
  std::error_code ec;
  if (comm_.is_root()) fs::remove_all(work_, ec);
}

std::string ArchiveBench::grid() const { return fmt::format("{}x{}", height_, width_); }

nlohmann::json ArchiveBench::run(const std::string& job) {
  const fs::path out = work_ / ("out-" + job);
  StageTimes t;
  int64_t outputs = 0;
  comm_.barrier();
  const double cpu0 = process_cpu_seconds();
  Stopwatch wall;
  if (job == "predict") {
    training::PredictConfig cfg;
    cfg.model = o_.model;
    cfg.in = {archive_};
    cfg.out = out.string();
    cfg.rerun = io::Rerun::overwrite;
    cfg.probabilities = o_.probabilities;
    cfg.overlap = o_.overlap;
    const training::PredictRun r = training::run_predict(cfg, comm_);
    t = r.report.times;
  } else {
    pipelines::LabelConfig cfg;
    cfg.inputs = {archive_};
    cfg.out = out.string();
    cfg.rerun = io::Rerun::overwrite;
    cfg.detectors = detectors_of(job);
    cfg.overlap = o_.overlap;
    const pipelines::LabelReport r = pipelines::label_archive(cfg, comm_);
    t = r.times;
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out, ec))
    outputs += e.path().string().ends_with(job == "predict" ? ".climseg.nc" : ".labels.nc");
  const double my_wall = wall.seconds();
  const double cpu = process_cpu_seconds() - cpu0;
  const double P = double(comm_.size());
  const double wall_s = comm_.max(my_wall);
  auto mean = [&](double v) { return comm_.sum(v) / P; };
  const double read = mean(t.read_s), read_exposed = mean(t.read_wait_s), compute = mean(t.compute_s),
               write = mean(t.write_s), write_exposed = mean(t.write_wait_s), setup = mean(t.setup_s);
  const double io = read + write;
  const double core_s = comm_.sum(cpu);
  const double steps = double(steps_);
  nlohmann::json j;
  j["bench"] = "archive";
  j["job"] = job == "predict" ? "predict" : "label --detect " + job;
  j["grid"] = grid();
  j["steps"] = steps_;
  j["files"] = files_;
  j["ranks"] = comm_.size();
  j["threads"] = num_threads();
  j["overlap"] = io::background_io(o_.overlap);  // whether background threads ran
  j["overlap_mode"] = config::to_string(o_.overlap);
  j["wall_s"] = wall_s;
  j["wall_s_per_step"] = wall_s / steps;
  j["core_s"] = core_s;
  j["core_s_per_step"] = core_s / steps;
  j["read_s"] = read;
  j["read_exposed_s"] = read_exposed;
  j["compute_s"] = compute;
  j["write_s"] = write;
  j["write_exposed_s"] = write_exposed;
  j["setup_s"] = setup;
  j["split_s"] = setup + read_exposed + compute + write_exposed;
  j["io_hidden_fraction"] = io > 0 ? std::clamp((io - read_exposed - write_exposed) / io, 0.0, 1.0) : 0.0;
  j["steady_s_per_step"] = std::max(0.0, wall_s - setup) / steps;
  j["outputs"] = outputs;
  return j;
}

}  // namespace climseg::bench
