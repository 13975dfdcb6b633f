// The training loop.
#include "models/training/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/h5.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "core/timer.hpp"
#include "models/training/data.hpp"
#include "models/training/metrics.hpp"
#include "models/training/model_io.hpp"
#include "nn/checkpoint.hpp"
#include "nn/optim.hpp"
#include "parallel/grad_sync.hpp"
#include "parallel/lr_scaling.hpp"
#include "parallel/state_sync.hpp"
#include "parallel/sync_batch_norm.hpp"
#include "parallel/watchdog.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"

namespace climseg::training {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

io::ArchiveOptions archive_options(const TrainConfig& c, const Comm& comm) {
  io::ArchiveOptions o;
  o.channels = io::parse_channels(c.data.channels);
  o.labels = c.data.labels;
  o.all_fill = c.data.fill;
  o.comm = comm;
  return o;
}

std::unique_ptr<nn::Optimizer> make_optimizer(const OptimizerConfig& o, nn::Parameters& params) {
  switch (o.type) {
    case OptimizerType::adam:
    case OptimizerType::adamw:
      return std::make_unique<nn::Adam>(params, nn::AdamOptions{o.beta1, o.beta2, o.eps, o.weight_decay},
                                        o.type == OptimizerType::adamw);
    case OptimizerType::sgd: {
      nn::SgdOptions s;
      s.momentum = o.momentum;
      s.nesterov = o.nesterov;
      s.weight_decay = o.weight_decay;
      return std::make_unique<nn::Sgd>(params, s);
    }
    case OptimizerType::lamb:
      return std::make_unique<nn::Lamb>(params, nn::LambOptions{o.beta1, o.beta2, o.eps, o.weight_decay});
  }
  fail("unknown optimizer {}", static_cast<int>(o.type));
}

nn::LrSchedule make_schedule(const TrainConfig& c, int64_t total_steps) {
  nn::LrSchedule s;
  s.kind = c.schedule.kind;
  s.base_lr = c.optimizer.lr;
  s.warmup_steps = c.schedule.warmup_steps;
  s.step_size = std::max<int64_t>(1, c.schedule.step_size);
  s.gamma = c.schedule.gamma;
  s.milestones = c.schedule.milestones;
  s.total_steps = std::max<int64_t>(1, total_steps);
  s.min_lr = c.schedule.min_lr;
  return s;
}

// Keeps only the metrics lines of steps <= `step` (a resumed run continues the same log).
void truncate_metrics(const fs::path& log, int64_t step) {
  std::error_code ec;
  if (!fs::exists(log, ec)) return;
  std::ifstream in(log);
  std::string line, kept;
  while (std::getline(in, line)) {
    try {
      json j = json::parse(line);
      if (j.value("step", int64_t{0}) <= step) kept += line + "\n";
    } catch (const json::exception&) {
      // a torn last line from a killed run
    }
  }
  write_file_atomically(log, kept);
}

}  // namespace

TrainResult train(const TrainConfig& cfg, const Comm& comm, const TrainHooks& hooks) {
  Stopwatch clock;
  const int P = comm.size(), rank = comm.rank();
  const int64_t B = cfg.batch_size;
  TrainResult result;
  if (cfg.data.fill == io::FillPolicy::skip)
    fail_usage("train config: data.fill 'skip' would unbalance the ranks' batches; use 'mask' or 'error'");

  // ---- data
  io::Archive archive = io::Archive::open(cfg.data.train, archive_options(cfg, comm));
  if (!archive.has_labels())
    fail("{}: no labels in the training archive (LABELS or DeepCAM labels_0); set data.labels", cfg.data.train.front());
  std::optional<io::Archive> val_archive;
  std::vector<int64_t> train_idx, val_idx;
  if (!cfg.data.val.empty()) {
    io::ArchiveOptions vo = archive_options(cfg, comm);
    val_archive.emplace(io::Archive::open(cfg.data.val, vo));
    for (int64_t i = 0; i < archive.size(); ++i) train_idx.push_back(i);
    for (int64_t i = 0; i < val_archive->size(); ++i) val_idx.push_back(i);
    if (!val_archive->grid().same_as(archive.grid()))
      fail("{}: validation grid {} differs from the training grid {}", cfg.data.val.front(),
           val_archive->grid().shape_str(), archive.grid().shape_str());
  } else if (!cfg.data.val_time.empty()) {
    split_by_time_range(archive, cfg.data.val_time[0], cfg.data.val_time[1], train_idx, val_idx);
    log::info("validation: {} samples from {} to {} (data.val_time [{}, {}))", val_idx.size(),
              archive.info(val_idx.front()).date.iso(), archive.info(val_idx.back()).date.iso(), cfg.data.val_time[0],
              cfg.data.val_time[1]);
  } else {
    split_by_time(archive.size(), cfg.data.val_fraction, train_idx, val_idx);
  }
  const io::Archive& varch = val_archive ? *val_archive : archive;
  const geo::Grid grid = archive.grid();
  const int64_t H = grid.height(), W = grid.width();

  nets::NetConfig mcfg = cfg.model;
  mcfg.channels = archive.channel_names();
  // What each channel is (units, standard name, level), so predict can find and convert it.
  const std::vector<io::ChannelMeta> inputs = archive.channel_meta();
  const int64_t K = mcfg.num_classes(), C = mcfg.in_channels();

  // ---- normalization
  Normalizer norm;
  if (cfg.data.normalization == Normalization::none) {
    norm = Normalizer::from_stats(io::ChannelStats{}, mcfg.channels, Normalization::none);
  } else if (!cfg.data.stats.empty()) {
    norm = Normalizer::from_stats(io::load_stats(cfg.data.stats), mcfg.channels, cfg.data.normalization);
  } else {
    // One pass over (up to 64 of) the training samples, shared by the ranks.
    io::StatsAccumulator acc(mcfg.channels, archive.channel_units());
    const int64_t n = std::min<int64_t>(64, static_cast<int64_t>(train_idx.size()));
    io::Block mine = io::block_partition(n, rank, P);
    for (int64_t k = mine.begin; k < mine.end; ++k)
      acc.add(archive.load(train_idx[static_cast<size_t>(k * static_cast<int64_t>(train_idx.size()) / n)]));
    acc.allreduce(comm);
    norm = Normalizer::from_stats(acc.result(), mcfg.channels, cfg.data.normalization);
    log::info("normalization computed from {} training samples (give data.stats to fix it)", n);
  }

  // ---- model, loss, optimizer
  auto net = nets::make_network(mcfg);
  nn::Parameters params(*net, cfg.seed);
  const int64_t Hp = round_up(H, net->size_multiple()), Wp = round_up(W, net->size_multiple());
  const bool ignore_unknown = cfg.data.unknown_classes == UnknownClasses::ignore;
  std::vector<double> freq = class_frequencies(archive, train_idx, mcfg.classes, 32, comm, ignore_unknown);
  nn::LossOptions lo;
  lo.class_weights = class_weights(cfg.loss.class_weights, freq);
  lo.ignore_index = kIgnoreLabel;
  std::vector<double> cos_lat = grid.row_cos_lat();
  if (cfg.loss.area_weighted)
    for (int64_t i = 0; i < Hp; ++i)
      lo.row_weights.push_back(static_cast<float>(cos_lat[static_cast<size_t>(std::min(i, H - 1))]));
  log::info(
      "training {} ({} parameters) on {} samples of {} ({} channels, {} classes), {} for validation; class "
      "frequencies {:.4f}, weights {:.3f}",
      mcfg.type, params.count(), train_idx.size(), grid.shape_str(), C, K, val_idx.size(), fmt::join(freq, "/"),
      fmt::join(lo.class_weights, "/"));

  nn::Graph graph(&params, nn::Graph::Mode::train);
  graph.set_seed(cfg.seed);
  nn::Value x = graph.input("x", {B, C, Hp, Wp});
  nn::Value y = graph.input_labels("y", {B, Hp, Wp});
  nn::Value logits = net->forward(x);
  nn::Value loss;
  switch (cfg.loss.type) {
    case LossType::jaccard:
      loss = nn::jaccard_loss(logits, y, lo);
      break;
    case LossType::dice:
      loss = nn::dice_loss(logits, y, lo);
      break;
    case LossType::cross_entropy:
      loss = nn::cross_entropy(logits, y, lo);
      break;
  }
  graph.compile({loss}, loss);
  log::debug("training graph: {} nodes, arena {:.1f} MB", graph.node_count(), graph.arena_bytes() / 1e6);

  auto opt = make_optimizer(cfg.optimizer, params);
  const int64_t steps_per_epoch = static_cast<int64_t>(train_idx.size()) / (B * P);
  if (steps_per_epoch < 1)
    fail("{} training samples cannot fill one global batch of {} ({} per rank x {} ranks)", train_idx.size(), B * P, B,
         P);
  // The schedule spans the epochs; max_steps only says where this run stops, so a run stopped
  // early and resumed follows the same learning rates as one that never stopped.
  const int64_t schedule_steps = cfg.epochs * steps_per_epoch;
  int64_t total_steps = schedule_steps;
  if (cfg.max_steps > 0) total_steps = std::min(total_steps, cfg.max_steps);
  nn::LrSchedule schedule = make_schedule(cfg, schedule_steps);
  // The base rate is tuned for one rank's batch; a larger global batch scales it (linear or square
  // root), reached by a warmup as long as the schedule's (at least one epoch).
  parallel::LrScaling scaling;
  scaling.rule = cfg.distributed.lr_scaling;
  scaling.reference_batch = B;
  scaling.warmup_steps = std::max(cfg.schedule.warmup_steps, steps_per_epoch);
  auto lr_at = [&](int64_t s) { return scaling.lr(schedule, B * P, s); };

  // ---- checkpoints and resumption
  const fs::path ckdir = cfg.checkpoint_dir;
  check_output_folder(ckdir, "--checkpoint_dir");
  if (comm.is_root()) {
    std::error_code ec;
    fs::create_directories(ckdir, ec);
    // A previous run's heartbeat files would read as silent ranks in a stall report (see below).
    fs::remove_all(ckdir / ".watchdog", ec);
  }
  comm.barrier();
  if (!fs::is_directory(ckdir)) fail("--checkpoint_dir {}: cannot create the directory", ckdir.string());
  const fs::path last_path = ckdir / "last.h5", best_path = ckdir / "best.h5", log_path = ckdir / "metrics.jsonl";
  int64_t step = 0;
  double best_metric = -1;
  fs::path resume_from;
  if (cfg.resume == "auto") {
    if (fs::exists(last_path)) resume_from = last_path;
  } else if (!cfg.resume.empty()) {
    resume_from = cfg.resume;
    if (!fs::exists(resume_from)) fail("{}: no such checkpoint to resume from", cfg.resume);
  }
  if (!resume_from.empty()) {
    {
      // A checkpoint of another network: say which settings differ, not which tensors.
      h5::File f = h5::File::open_verified(resume_from);
      if (f.has_attr("model")) {
        std::string diff;
        try {
          diff = model_difference(json::parse(f.attr_string("model")), mcfg);
        } catch (const json::exception&) {
        }
        if (!diff.empty())
          fail_usage(
              "{}: resuming another network: {} (resume with the checkpoint's settings, or start a new "
              "checkpoint_dir)",
              resume_from.string(), diff);
      }
    }
    nn::CheckpointInfo info = nn::load_checkpoint(resume_from, params, opt.get());
    json loader = json::parse(info.loader.empty() ? "{}" : info.loader);
    step = info.step;
    best_metric = loader.value("best_metric", -1.0);
    if (loader.value("ranks", P) != P || loader.value("batch_size", B) != B)
      log::warn("{}: written with {} ranks x batch {}, resuming with {} x {}: the sample order differs",
                resume_from.string(), loader.value("ranks", P), loader.value("batch_size", B), P, B);
    graph.set_step(loader.value("graph_step", step));
    log::info("resuming from {} at step {} (epoch {})", resume_from.string(), step, step / steps_per_epoch);
    if (comm.is_root()) truncate_metrics(log_path, step);
  } else if (comm.is_root()) {
    write_file_atomically(log_path, "");
  }
  comm.barrier();

  // ---- data parallelism: identical start, bucketed overlapped gradient allreduce, optional
  // synchronised BatchNorm, a watchdog for stalled collectives, periodic consistency checks.
  // Heartbeats go to <checkpoint_dir>/.watchdog unless CLIMSEG_WATCHDOG_DIR says otherwise: every
  // rank reads the checkpoint directory when resuming, so it is shared, and a stall report can then
  // name the ranks that have not arrived.
  std::optional<parallel::Watchdog> watchdog;
  if (P > 1) {
    parallel::WatchdogOptions wo;
    wo.directory = (ckdir / ".watchdog").string();
    watchdog.emplace(comm, parallel::watchdog_options_from_env(wo));
  }
  parallel::broadcast_parameters(params, comm);
  parallel::GradSyncOptions gso;
  gso.bucket_bytes = std::max<int64_t>(4096, static_cast<int64_t>(cfg.distributed.bucket_mb * (1 << 20)));
  gso.hierarchical = cfg.distributed.hierarchical;
  parallel::GradSync sync(params, graph, comm, gso);
  std::optional<parallel::SyncBatchNorm> sync_bn;
  if (cfg.distributed.sync_batchnorm && P > 1) {
    sync_bn.emplace(comm);
    graph.set_stats_reducer(&*sync_bn);
  }

  auto save = [&](const fs::path& path) {
    nn::CheckpointInfo info;
    info.step = step;
    info.config = cfg.to_json().dump();
    info.loader =
        json{{"step", step},    {"epoch", step / steps_per_epoch}, {"steps_per_epoch", steps_per_epoch}, {"ranks", P},
             {"batch_size", B}, {"best_metric", best_metric},      {"graph_step", graph.step()}}
            .dump();
    info.rng = json{{"seed", cfg.seed}, {"augment", "hash(seed, step, slot)"}}.dump();
    info.attributes = model_attributes(mcfg, norm, &grid, inputs);
    if (comm.is_root()) nn::save_checkpoint(path, params, opt.get(), info);
    parallel::CollectiveScope scope("checkpoint barrier");
    comm.barrier();
  };

  // ---- validation
  nn::Graph vgraph(&params, nn::Graph::Mode::eval);
  nn::Value vx = vgraph.input("x", {1, C, Hp, Wp});
  nn::Value vlogits = net->forward(vx);
  vgraph.compile({vlogits});
  const std::vector<bool> negate = zonal_wind_channels(mcfg.channels);
  auto validate = [&]() -> json {
    ConfusionMatrix cm(K);
    io::Block mine = io::block_partition(static_cast<int64_t>(val_idx.size()), rank, P);
    std::vector<int32_t> labels(static_cast<size_t>(Hp * Wp)), pred(static_cast<size_t>(H * W)),
        truth(static_cast<size_t>(H * W));
    std::vector<double> area = grid.row_areas();
    for (int64_t k = mine.begin; k < mine.end; ++k) {
      io::Sample s = varch.load(val_idx[static_cast<size_t>(k)]);
      if (s.skip) continue;
      check_label_classes(s, mcfg.classes, ignore_unknown);
      fill_input(s, norm, Hp, Wp, {}, negate, K, vgraph.tensor(vx).data(), labels.data());
      vgraph.forward();
      argmax_classes(vgraph.tensor(vlogits).data(), K, Hp, Wp, H, W, pred.data());
      crop_labels(labels.data(), Wp, H, W, truth.data());
      cm.add(pred.data(), truth.data(), H, W, area);
    }
    parallel::CollectiveScope scope("validation confusion matrices");
    cm.allreduce(comm);
    return cm.to_json(mcfg.classes);
  };

  auto log_line = [&](const json& j) {
    if (!comm.is_root()) return;
    std::ofstream f(log_path, std::ios::app);
    f << j.dump() << "\n";
  };

  // ---- the loop
  Progress progress("train", total_steps - step);
  std::optional<io::Prefetcher> prefetch;
  int64_t prefetch_epoch = -1, prefetch_next = -1;
  std::vector<int64_t> order;
  int64_t bad_steps = 0;
  double window_loss = 0;
  int64_t window_steps = 0;
  Stopwatch window_clock;
  const bool periodic = grid.periodic;
  while (step < total_steps) {
    const int64_t epoch = step / steps_per_epoch, in_epoch = step % steps_per_epoch;
    // This rank's samples for the rest of the epoch, streamed by a prefetching thread.
    if (epoch != prefetch_epoch || in_epoch != prefetch_next) {
      order = epoch_order(train_idx, cfg.seed, epoch);
      std::vector<int64_t> mine;
      for (int64_t b = in_epoch; b < steps_per_epoch; ++b)
        for (int64_t k = 0; k < B; ++k) mine.push_back(order[static_cast<size_t>((b * P + rank) * B + k)]);
      prefetch.reset();
      prefetch.emplace(archive, mine, static_cast<int>(2 * B));
      prefetch_epoch = epoch;
    }
    if (hooks.on_batch) {
      std::vector<int64_t> batch;
      for (int64_t k = 0; k < B; ++k) batch.push_back(order[static_cast<size_t>((in_epoch * P + rank) * B + k)]);
      hooks.on_batch(step, batch);
    }
    float* xd = graph.tensor(x).data();
    int32_t* yd = graph.labels(y);
    for (int64_t k = 0; k < B; ++k) {
      std::optional<io::Sample> s = prefetch->next();
      if (!s) fail("internal: the prefetcher ran out of samples at step {}", step);
      const uint64_t h = mix_hash(cfg.seed, static_cast<uint64_t>(step), static_cast<uint64_t>(rank * B + k));
      Augment aug;
      if (cfg.augment_roll && periodic) aug.roll = static_cast<int64_t>(h % static_cast<uint64_t>(W));
      aug.flip = cfg.augment_flip && ((h >> 40) & 1);
      check_label_classes(*s, mcfg.classes, ignore_unknown);  // every sample, not only the frequency sample
      fill_input(*s, norm, Hp, Wp, aug, negate, K, xd + k * C * Hp * Wp, yd + k * Hp * Wp);
    }
    prefetch_next = in_epoch + 1;

    if (watchdog) watchdog->set_step(step);
    graph.forward();
    sync.begin_backward();
    graph.backward();
    sync.finish();  // gradients averaged over the ranks (each rank's loss is a mean over its batch)
    float local_loss = graph.scalar(loss);
    double gnorm = cfg.optimizer.clip_grad_norm > 0 ? nn::clip_grad_norm(params, cfg.optimizer.clip_grad_norm)
                                                    : nn::grad_norm(params);
    bool bad = false;
    double mean_loss = 0;
    {
      parallel::CollectiveScope scope("loss and NaN check");
      bad = comm.any(!std::isfinite(local_loss) || !std::isfinite(gnorm));
      mean_loss = comm.sum(double(std::isfinite(local_loss) ? local_loss : 0.0)) / P;
    }
    if (bad) {
      ++bad_steps;
      ++result.skipped_steps;
      log::warn("step {}: loss or gradient is NaN/Inf on some rank; batch skipped ({} of at most {})", step, bad_steps,
                cfg.max_bad_steps);
      if (bad_steps > cfg.max_bad_steps)
        fail("training diverged: {} steps with NaN/Inf loss or gradient (max_bad_steps {}); last good checkpoint: {}",
             bad_steps, cfg.max_bad_steps, fs::exists(last_path) ? last_path.string() : std::string("none"));
    } else {
      opt->step(lr_at(step));
    }
    // BatchNorm running statistics (updated by every forward, skipped batches included) averaged
    // over the ranks after every step with one small allreduce, so checkpoints, validation and a
    // resumed run see the same values whenever they are taken; with SyncBatchNorm they are equal.
    if (P > 1 && !sync_bn) parallel::average_buffers(params, comm);
    ++step;
    if (P > 1 && cfg.distributed.check_every > 0 && step % cfg.distributed.check_every == 0)
      parallel::check_identical(params, comm, step);
    result.last_loss = mean_loss;
    window_loss += mean_loss;
    ++window_steps;
    progress.advance(1, fmt::format("epoch {} loss {:.4f} lr {:.3g}", epoch, mean_loss, lr_at(step - 1)));
    if (step % cfg.log_every == 0) {
      double secs = window_clock.seconds();
      log_line({{"step", step},
                {"epoch", epoch},
                {"loss", window_loss / double(window_steps)},
                {"lr", lr_at(step - 1)},
                {"grad_norm", gnorm},
                {"samples_per_s", double(window_steps * B * P) / std::max(1e-9, secs)},
                {"elapsed_s", clock.seconds()}});
      window_loss = 0;
      window_steps = 0;
      window_clock.reset();
    }
    const bool epoch_end = step % steps_per_epoch == 0;
    const bool last = step == total_steps;
    bool out_of_time = false;
    if (cfg.max_minutes > 0) {
      parallel::CollectiveScope scope("wall-clock limit check");
      out_of_time = comm.any(clock.seconds() > cfg.max_minutes * 60.0);
    }
    const bool do_val = !val_idx.empty() &&
                        (last || out_of_time || (cfg.validate_every > 0 ? step % cfg.validate_every == 0 : epoch_end));
    if (do_val) {
      json v = validate();
      result.last_validation = v;
      double metric = v["pixels"]["event_mean_iou"].is_number() ? v["pixels"]["event_mean_iou"].get<double>() : 0.0;
      json line = {{"step", step},
                   {"epoch", epoch},
                   {"validation", v["pixels"]["iou"]},
                   {"val_mean_iou", v["pixels"]["mean_iou"]},
                   {"val_event_mean_iou", metric},
                   {"val_deepcam_iou", v["deepcam_mean_iou"]}};
      log_line(line);
      log::info("step {}: validation IoU {} (events mean {:.3f})", step, v["pixels"]["iou"].dump(), metric);
      if (metric > best_metric) {
        best_metric = metric;
        save(best_path);
        result.best_checkpoint = best_path.string();
      }
    }
    if (last || out_of_time || (cfg.checkpoint_every > 0 ? step % cfg.checkpoint_every == 0 : epoch_end)) {
      save(last_path);
      result.last_checkpoint = last_path.string();
    }
    if (hooks.on_step) hooks.on_step(step);
    if (out_of_time && !last) {
      result.stopped_by_time = true;
      log::info("stopping at step {} of {}: max_minutes ({}) reached; resume with --resume auto", step, total_steps,
                cfg.max_minutes);
      break;
    }
  }
  progress.finish();
  if (hooks.validate_when_done && result.last_validation.is_null() && !val_idx.empty())
    result.last_validation = validate();
  result.steps = step;
  return result;
}

}  // namespace climseg::training
