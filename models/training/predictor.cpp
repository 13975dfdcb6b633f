// Prediction and evaluation over archives.
#include "models/training/predictor.hpp"

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <memory>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "geo/regrid.hpp"
#include "nn/ops.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/write_behind.hpp"
#include "readers/writer.hpp"

namespace climseg::training {
namespace fs = std::filesystem;

namespace {

// One network compiled for a grid (padded to its size multiple), run one sample at a time. Without
// a network grid it runs on the archive's grid and gives probabilities (K, Hp, Wp) after softmax;
// with one (`--regrid`) each sample's channels are regridded to it first, and the probabilities
// are regridded back to the archive's grid, (K, H, W). out_rows()/out_cols() say which. A runner made
// `mask_only` (no network grid) gives the class mask alone (mask()): the argmax of the same
// probabilities, computed from the logits without storing them.
class Runner {
 public:
  Runner(const ModelBundle& m, const geo::Grid& grid, const geo::Grid* net_grid, BatchNormStats bn,
         nn::Precision precision = nn::Precision::fp32, bool mask_only = false)
      : model_(m),
        H_(grid.height()),
        W_(grid.width()),
        Hn_(net_grid ? net_grid->height() : H_),
        Wn_(net_grid ? net_grid->width() : W_),
        Hp_(round_up(Hn_, m.net->size_multiple())),
        Wp_(round_up(Wn_, m.net->size_multiple())),
        graph_(m.params.get(), nn::Graph::Mode::eval) {
    if (net_grid != nullptr) {
      net_grid_ = *net_grid;
      to_net_ = std::make_unique<geo::Regridder>(grid, *net_grid);
      back_ = std::make_unique<geo::Regridder>(*net_grid, grid);
    }
    graph_.set_precision(precision);
    graph_.set_batch_norm_batch_stats(bn == BatchNormStats::batch);
    x_ = graph_.input("x", {1, m.config.in_channels(), Hp_, Wp_});
    const nn::Value logits = m.net->forward(x_);
    if (mask_only && net_grid == nullptr) {
      logits_ = logits;
      graph_.compile({logits_});
    } else {
      prob_ = nn::softmax(logits);
      graph_.compile({prob_});
    }
    negate_ = zonal_wind_channels(m.config.channels);
  }
  // The class mask (H*W, class indices as floats) of one sample: argmax_classes of what run() would
  // return, the same values. Only for a runner made mask_only.
  void mask(const io::Sample& s, float* out) {
    if (!logits_.valid()) fail("internal: Runner::mask on a runner that computes probabilities");
    const int64_t K = model_.config.num_classes();
    fill_input(s, model_.normalizer, Hp_, Wp_, {}, negate_, K, graph_.tensor(x_).data(), nullptr);
    graph_.forward();
    nn::softmax_argmax(graph_.tensor(logits_).data(), K, Hp_ * Wp_, H_, Wp_, W_, out);
  }
  bool mask_only() const { return logits_.valid(); }
  // Probabilities of one sample (see the class comment); labels (Hp, Wp) filled when `labels` is
  // not null (not with a network grid).
  const float* run(const io::Sample& s, int32_t* labels) {
    if (logits_.valid()) fail("internal: Runner::run on a mask-only runner");
    const int64_t K = model_.config.num_classes();
    if (!to_net_) {
      fill_input(s, model_.normalizer, Hp_, Wp_, {}, negate_, K, graph_.tensor(x_).data(), labels);
      graph_.forward();
      return graph_.tensor(prob_).data();
    }
    // Invalid cells take the channel's normalization shift (0 once normalised, as fill_input
    // gives them) before the regridding spreads them.
    const int64_t C = s.channels_count();
    Tensor in = s.data.clone();
    if (s.valid.numel() > 0)
      for (int64_t c = 0; c < C; ++c) {
        const float shift = model_.normalizer.shift[static_cast<size_t>(c)];
        for (int64_t k = c * H_ * W_; k < (c + 1) * H_ * W_; ++k)
          if (s.valid[k] <= 0.5f) in[k] = shift;
      }
    io::Sample r;
    r.grid = net_grid_;
    r.file = s.file;
    r.channels = s.channels;
    r.units = s.units;
    r.data = to_net_->apply(in);
    fill_input(r, model_.normalizer, Hp_, Wp_, {}, negate_, K, graph_.tensor(x_).data(), nullptr);
    graph_.forward();
    const float* p = graph_.tensor(prob_).data();
    Tensor crop({K, Hn_, Wn_});
    for (int64_t c = 0; c < K; ++c)
      for (int64_t i = 0; i < Hn_; ++i)
        std::copy(p + (c * Hp_ + i) * Wp_, p + (c * Hp_ + i) * Wp_ + Wn_, crop.data() + (c * Hn_ + i) * Wn_);
    out_ = back_->apply(crop);
    // Fourier interpolation can overshoot a little near sharp edges: keep probabilities in [0, 1].
    for (float& v : out_) v = std::clamp(v, 0.0f, 1.0f);
    return out_.data();
  }
  int64_t H() const { return H_; }
  int64_t W() const { return W_; }
  int64_t Hp() const { return Hp_; }
  int64_t Wp() const { return Wp_; }
  // Row and column counts of what run() returns.
  int64_t out_rows() const { return to_net_ ? H_ : Hp_; }
  int64_t out_cols() const { return to_net_ ? W_ : Wp_; }

 private:
  const ModelBundle& model_;
  int64_t H_, W_, Hn_, Wn_, Hp_, Wp_;
  nn::Graph graph_;
  nn::Value x_, prob_, logits_;  // logits_: mask-only runners
  std::vector<bool> negate_;
  geo::Grid net_grid_;
  std::unique_ptr<geo::Regridder> to_net_, back_;
  Tensor out_;
};

io::Archive open_for(const ModelBundle& m, const std::vector<std::string>& inputs, const std::string& channels,
                     const std::map<std::string, std::string>& units, const std::string& labels, const Comm& comm) {
  io::ArchiveOptions o;
  o.channels = m.input_specs(channels);
  o.units_override = units;
  o.missing_option = "--channels";
  o.labels = labels;
  o.comm = comm;
  io::Archive a = io::Archive::open(inputs, o);
  if (a.channel_names() != m.config.channels)
    fail("internal: the archive gives channels {}, the model expects {}", fmt::join(a.channel_names(), ","),
         fmt::join(m.config.channels, ","));
  if (!m.described()) {
    log::info(
        "{}: the model records channel names only (a checkpoint from before climseg recorded units and standard "
        "names): channels are found by name, and their values are fed as the files hold them, unchecked",
        m.source);
    // Units that differ from what the channel's name usually means (PSL in hPa where CAM5 and
    // ClimateNet write Pa) are likely not what such a model was trained on: say so.
    for (const io::ChannelSource& src : a.channel_sources())
      if (const io::Quantity* q = io::quantity_of(src.name))
        if (!q->units.empty() && !src.file_units.empty() && !io::same_units(src.file_units, q->units))
          log::warn(
              "{}: channel {} is in {}; {} is usually in {}, and this model records no units, so the values are fed "
              "unconverted: if it was trained on {}, convert the file (or retrain: checkpoints record units now)",
              src.file, src.name, src.file_units, src.name, q->units, q->units);
  }
  for (const io::ChannelSource& src : a.channel_sources())
    log::info("channel {} <- {} {}{}", src.name, src.spec, src.how,
              src.conversion.identity() && src.conversion.note.empty()
                  ? fmt::format(" [{}]", src.file_units)
                  : fmt::format(" [{} -> {}: x {:g}{}{}]", src.file_units, src.units, src.conversion.scale,
                                src.conversion.offset != 0 ? fmt::format(" + {:g}", src.conversion.offset) : "",
                                src.conversion.note.empty() ? "" : ", " + src.conversion.note));
  return a;
}

// What each channel was read from, for the outputs: "TMQ=IWV [kg m-2], PSL=SLP [hPa -> Pa]".
std::string input_description(const io::Archive& a) {
  std::vector<std::string> parts;
  for (const io::ChannelSource& src : a.channel_sources())
    parts.push_back(fmt::format("{}={} [{}]", src.name, src.spec,
                                src.conversion.identity() && src.conversion.note.empty()
                                    ? src.file_units
                                    : src.file_units + " -> " + src.units));
  return fmt::format("{}", fmt::join(parts, ", "));
}

// Samples grouped by input file group, in time order.
std::vector<std::vector<int64_t>> groups_of(const io::Archive& a) {
  std::map<int64_t, std::vector<int64_t>> by_group;
  for (int64_t i = 0; i < a.size(); ++i) by_group[a.info(i).group].push_back(i);
  std::vector<std::vector<int64_t>> out;
  for (auto& [g, v] : by_group) out.push_back(std::move(v));
  return out;
}

// Where a rank keeps its steps of an output shared with other ranks until the output is assembled:
// a hidden file beside it, raw float32, per step the mask (H*W) then each probability (H*W).
fs::path part_path(const fs::path& out, int rank) {
  return out.parent_path() / fmt::format(".{}.part{}", out.filename().string(), rank);
}

}  // namespace

int64_t missing_cells(const io::Sample& s, MissingPolicy policy, std::vector<uint8_t>& out) {
  const int64_t HW = s.grid.size(), C = s.channels_count();
  out.assign(static_cast<size_t>(HW), 0);
  if (s.valid.numel() == 0) return 0;
  std::vector<std::string> which;
  for (int64_t c = 0; c < C; ++c) {
    const float* v = s.valid.data() + c * HW;
    int64_t bad = 0;
    for (int64_t k = 0; k < HW; ++k)
      if (v[k] <= 0.5f) {
        out[static_cast<size_t>(k)] = 1;
        ++bad;
      }
    if (bad > 0) which.push_back(fmt::format("{} ({} cells)", s.channels[static_cast<size_t>(c)], bad));
  }
  const int64_t n = std::count(out.begin(), out.end(), uint8_t{1});
  if (n > 0 && policy == MissingPolicy::error)
    fail(
        "{}: {}: {} cells have a missing input value ({}) and --fill-policy is error; mask (the default) gives them "
        "_FillValue, mean fills them with the model's training mean",
        s.file, s.time_iso.empty() ? fmt::format("step {}", s.time_index) : s.time_iso, n, fmt::join(which, ", "));
  return n;
}

struct GridPredictor::Impl {
  Impl(const ModelBundle& m, const geo::Grid& g, const GridPredictorOptions& o)
      : model(m), runner(m, g, o.net_grid ? &*o.net_grid : nullptr, o.batchnorm, o.precision) {}
  const ModelBundle& model;
  Runner runner;
};

GridPredictor::GridPredictor(const ModelBundle& model, const geo::Grid& grid, const GridPredictorOptions& options)
    : impl_(std::make_unique<Impl>(model, grid, options)) {}
GridPredictor::~GridPredictor() = default;

const float* GridPredictor::probabilities_view(const io::Sample& s) {
  Runner& r = impl_->runner;
  if (s.grid.height() != r.H() || s.grid.width() != r.W())
    fail("prediction: a {} sample for a network compiled for {}x{}", s.grid.shape_str(), r.H(), r.W());
  return r.run(s, nullptr);
}
int64_t GridPredictor::rows() const { return impl_->runner.out_rows(); }
int64_t GridPredictor::cols() const { return impl_->runner.out_cols(); }

Tensor GridPredictor::probabilities(const io::Sample& s) {
  Runner& r = impl_->runner;
  const int64_t K = impl_->model.config.num_classes(), H = r.H(), W = r.W(), Hp = r.out_rows(), Wp = r.out_cols();
  const float* p = probabilities_view(s);
  Tensor out({K, H, W});
  for (int64_t c = 0; c < K; ++c)
    for (int64_t i = 0; i < H; ++i)
      std::copy(p + (c * Hp + i) * Wp, p + (c * Hp + i) * Wp + W, out.data() + (c * H + i) * W);
  return out;
}

MissingPolicy parse_missing_policy(const std::string& name) {
  if (name == "mask") return MissingPolicy::mask;
  if (name == "mean") return MissingPolicy::mean;
  if (name == "error") return MissingPolicy::error;
  fail_usage("--fill-policy {}: expected mask, mean or error", name);
}

const char* missing_policy_name(MissingPolicy p) {
  return p == MissingPolicy::mean ? "mean" : p == MissingPolicy::error ? "error" : "mask";
}

namespace {
std::string missing_policy_description(MissingPolicy p) {
  switch (p) {
    case MissingPolicy::mean:
      return "mean: cells with a missing input value were given the model's training mean of the channel and "
             "classified like any other";
    case MissingPolicy::error:
      return "error: no input value was missing";
    case MissingPolicy::mask:
      break;
  }
  return "mask: cells with a missing input value are _FillValue in class_mask and the probabilities";
}
}  // namespace

BatchNormStats parse_batchnorm(const std::string& name) {
  if (name == "running") return BatchNormStats::running;
  if (name == "batch") return BatchNormStats::batch;
  fail_usage("--batchnorm {}: expected running or batch", name);
}

const char* batchnorm_name(BatchNormStats b) { return b == BatchNormStats::batch ? "batch" : "running"; }

std::string batchnorm_description(BatchNormStats b) {
  return b == BatchNormStats::batch
             ? "batch: BatchNorm normalised each sample with its own statistics (PyTorch's train-mode forward)"
             : "running: BatchNorm used the checkpoint's running statistics (PyTorch's eval mode)";
}

PredictReport predict(const ModelBundle& m, const PredictOptions& o, const Comm& comm) {
  io::Archive archive = open_for(m, o.inputs, o.channels, o.units, "", comm);
  const geo::Grid* net_grid = nullptr;
  if (!o.regrid && m.training_grid && !m.training_grid->same_as(archive.grid(), 1e-3))
    log::warn(
        "{}: the model was trained on a {} grid and this archive is {}: its features (cyclones, rivers) are seen at "
        "another scale than in training; --regrid runs the network on the training grid and maps the "
        "probabilities back",
        m.source, m.training_grid->shape_str(), archive.grid().shape_str());
  if (o.regrid) {
    if (!m.training_grid)
      fail_usage("{}: --regrid: the model records no training grid (a checkpoint from before climseg stored it)",
                 m.source);
    if (m.training_grid->same_as(archive.grid())) {
      log::info("--regrid: the archive is on the model's training grid {} already", archive.grid().shape_str());
    } else {
      net_grid = &*m.training_grid;
      log::info("--regrid: {} -> {} (the model's training grid) and back", archive.grid().shape_str(),
                net_grid->shape_str());
    }
  }
  std::error_code ec;
  if (comm.is_root()) fs::create_directories(o.out_dir, ec);
  comm.barrier();
  if (!fs::is_directory(o.out_dir)) {
    check_output_folder(o.out_dir);  // a file in the way is named
    fail("--out {}: cannot create the directory", o.out_dir.string());
  }
  // Inputs are never overwritten.
  for (const io::FileMeta& f : archive.files())
    for (const std::string& name : {fs::path(f.path).filename().string()})
      if (fs::equivalent(fs::path(f.path).parent_path(), o.out_dir, ec) && name.size() > o.suffix.size() &&
          name.substr(name.size() - o.suffix.size()) == o.suffix)
        fail_usage("{}: an input would be overwritten by an output; choose another --out", f.path);

  // Every time step of the archive in (file group, step) order; each rank takes a contiguous block.
  // A group whose steps all fall in one rank's block is written by that rank directly; one shared
  // by several ranks is written by each into a part file, and after a barrier the rank holding its
  // first step assembles the output from the parts (the same bytes as a serial run).
  const auto groups = groups_of(archive);
  const int P = comm.size();
  int64_t total = 0;
  std::vector<int64_t> offset;
  for (const auto& g : groups) {
    offset.push_back(total);
    total += static_cast<int64_t>(g.size());
  }
  std::vector<io::Block> blocks;
  for (int r = 0; r < P; ++r) blocks.push_back(io::block_partition(total, r, P));
  auto owner = [&](int64_t sample) {
    for (int r = 0; r < P; ++r)
      if (sample >= blocks[static_cast<size_t>(r)].begin && sample < blocks[static_cast<size_t>(r)].end) return r;
    return P - 1;
  };
  const io::Block mine = blocks[static_cast<size_t>(comm.rank())];

  // Without --probabilities (nor --regrid) the network stops at the logits and the mask is their
  // softmax's argmax, computed without storing the probabilities: the same mask.
  Runner runner(m, archive.grid(), net_grid, o.batchnorm, o.precision, !o.probabilities);
  const int64_t K = m.config.num_classes(), H = runner.H(), W = runner.W(), Ho = runner.out_rows(),
                Wo = runner.out_cols();
  const int64_t HW = H * W;
  std::vector<std::string> prob_names;
  for (const std::string& c : m.config.classes) {
    std::string name = "prob_" + c;
    std::replace(name.begin(), name.end(), ' ', '_');
    prob_names.push_back(name);
  }
  const std::string inputs_read = input_description(archive);
  auto output_of = [&](size_t g) {
    return o.out_dir / (fs::path(archive.info(groups[g].front()).file).stem().string() + o.suffix);
  };
  // What determines output g: the options, the model, its input files, climseg's version.
  const std::string model_sha256 = io::file_sha256(m.source);
  auto key_of = [&](size_t g) {
    return io::make_run_key("predict", o.key_config, archive.group_files(archive.info(groups[g].front()).group),
                            model_sha256);
  };
  auto open_writer = [&](size_t g) {
    const auto& idx = groups[g];
    const io::SampleInfo first = archive.info(idx.front());
    const io::FileMeta* meta = nullptr;
    for (const io::FileMeta& f : archive.files())
      if (f.path == first.file) meta = &f;
    if (meta == nullptr) fail("internal: no metadata for {}", first.file);
    io::OutputSpec spec = io::output_like(*meta);
    spec.time_steps = static_cast<int64_t>(idx.size());
    spec.variables.push_back(io::mask_field("class_mask", m.config.classes, "most probable class"));
    if (o.probabilities)
      for (size_t c = 0; c < prob_names.size(); ++c)
        spec.variables.push_back(io::probability_field(prob_names[c], "probability of " + m.config.classes[c]));
    spec.global_attrs.push_back(io::Attr::str("title", "climseg predictions"));
    spec.global_attrs.push_back(io::Attr::str("model_kind", m.kind));
    spec.global_attrs.push_back(io::Attr::str("model_architecture", m.config.type));
    spec.global_attrs.push_back(io::Attr::str("model_channels", fmt::format("{}", fmt::join(m.config.channels, ","))));
    spec.global_attrs.push_back(io::Attr::str("input_channels", inputs_read));
    spec.global_attrs.push_back(io::Attr::str("batchnorm", batchnorm_description(o.batchnorm)));
    spec.global_attrs.push_back(io::Attr::str("fill_policy", missing_policy_description(o.missing)));
    if (net_grid != nullptr)
      spec.global_attrs.push_back(io::Attr::str(
          "model_grid", fmt::format("{} (inputs regridded to it, probabilities back)", net_grid->shape_str())));
    spec.provenance.checkpoint = m.source;
    spec.provenance.checkpoint_sha256 = model_sha256;
    spec.provenance.inputs = archive.group_files(first.group);
    spec.provenance.run_key = key_of(g).text();
    auto writer = std::make_unique<io::CfWriter>(output_of(g), spec);
    std::vector<double> times;
    for (int64_t i : idx) times.push_back(archive.info(i).time_value);
    if (spec.has_time()) writer->write_time(0, times);
    return writer;
  };
  // One step's mask and probabilities on the (H, W) grid, by variable, to be written into a writer
  // or a part file. Cells with a missing input are NaN (the writer's _FillValue) unless the policy
  // is `mean`.
  PredictReport report;
  StageTimes& times = report.times;
  io::WriteBehind writes(o.overlap);
  std::vector<uint8_t> missing;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  using Outputs = std::vector<std::pair<std::string, std::vector<float>>>;
  auto emit = [&](const io::Sample& s) {
    ScopedSeconds timed(times.compute_s);
    Outputs put;
    const int64_t n_missing = missing_cells(s, o.missing, missing);
    report.missing_cells += n_missing;
    report.steps_with_missing += n_missing > 0;
    const bool blank = n_missing > 0 && o.missing == MissingPolicy::mask;
    std::vector<float> mask = writes.buffer(static_cast<size_t>(HW));
    const float* p = nullptr;
    if (runner.mask_only()) {
      runner.mask(s, mask.data());
    } else {
      p = runner.run(s, nullptr);
      argmax_classes(p, K, Ho, Wo, H, W, mask.data());
    }
    if (blank)
      for (int64_t k = 0; k < HW; ++k)
        if (missing[static_cast<size_t>(k)]) mask[static_cast<size_t>(k)] = nan;
    put.emplace_back("class_mask", std::move(mask));
    if (o.probabilities)
      for (int64_t c = 0; c < K; ++c) {
        std::vector<float> prob = writes.buffer(static_cast<size_t>(HW));
        for (int64_t i = 0; i < H; ++i)
          std::copy(p + (c * Ho + i) * Wo, p + (c * Ho + i) * Wo + W, prob.data() + i * W);
        if (blank)
          for (int64_t k = 0; k < HW; ++k)
            if (missing[static_cast<size_t>(k)]) prob[static_cast<size_t>(k)] = nan;
        put.emplace_back(prob_names[static_cast<size_t>(c)], std::move(prob));
      }
    return put;
  };
  // Writing done on this thread (opening outputs, assembling shared ones) counts as exposed.
  auto inline_write = [&](const std::function<void()>& f) {
    Stopwatch w;
    f();
    const double seconds = w.seconds();
    times.write_s += seconds;
    times.write_wait_s += seconds;
  };

  // Which of this rank's outputs to write, decided before any shared output is written (after the
  // barrier below) so every rank agrees; then their steps are read ahead by one prefetcher across
  // files, and written behind (o.overlap).
  struct Job {
    size_t g;
    int64_t lo, hi;
    bool split;
  };
  std::vector<Job> jobs;
  std::vector<int64_t> my_steps;
  Progress progress("predict", mine.size());
  std::vector<size_t> shared;  // groups split over ranks, not already complete
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& idx = groups[g];
    const int64_t n = static_cast<int64_t>(idx.size());
    const int64_t lo = std::max(offset[g], mine.begin) - offset[g], hi = std::min(offset[g] + n, mine.end) - offset[g];
    const bool split = owner(offset[g]) != owner(offset[g] + n - 1);
    const fs::path out = output_of(g);
    const bool complete = io::keep_existing(out, key_of(g), o.rerun);
    if (split && !complete) shared.push_back(g);
    if (lo >= hi) continue;
    if (complete) {
      if (lo == 0) ++report.files_skipped;
      progress.advance(hi - lo, "skipped complete " + out.filename().string());
      continue;
    }
    jobs.push_back({g, lo, hi, split});
    my_steps.insert(my_steps.end(), idx.begin() + lo, idx.begin() + hi);
  }
  io::Prefetcher samples(archive, my_steps, 2, o.overlap);
  auto next_sample = [&](const Job& j, int64_t t) {
    std::optional<io::Sample> s = samples.next();
    if (!s) fail("internal: missing sample {} of {}", t, archive.info(groups[j.g].front()).file);
    return std::move(*s);
  };
  for (const Job& j : jobs) {
    const fs::path out = output_of(j.g);
    if (!j.split) {
      std::shared_ptr<io::CfWriter> writer;
      inline_write([&] { writer = open_writer(j.g); });
      const int64_t missing_before = report.missing_cells;
      for (int64_t t = j.lo; t < j.hi; ++t) {
        io::Sample s = next_sample(j, t);
        Outputs outs = emit(s);
        samples.recycle(std::move(s));
        for (auto& out_var : outs)
          writes.post(std::move(out_var.second),
                      [writer, var = out_var.first, t](const float* x) { writer->write(var, t, x); });
        ++report.samples;
        progress.advance(1);
      }
      const int64_t file_missing = report.missing_cells - missing_before;
      writes.post([writer, file_missing, mask_policy = o.missing == MissingPolicy::mask] {
        if (mask_policy)  // the _FillValue cells of class_mask
          writer->set_global_attr("missing_input_cells", std::to_string(file_missing));
        writer->close();
      });
      ++report.files_written;
      report.outputs.push_back(out.string());
      continue;
    }
    const fs::path part = part_path(out, comm.rank());
    auto f = std::make_shared<std::ofstream>(part, std::ios::binary | std::ios::trunc);
    if (!*f) fail("{}: cannot write", part.string());
    for (int64_t t = j.lo; t < j.hi; ++t) {
      io::Sample s = next_sample(j, t);
      Outputs outs = emit(s);
      samples.recycle(std::move(s));
      for (auto& out_var : outs)
        writes.post(std::move(out_var.second), [f, HW](const float* x) {
          f->write(reinterpret_cast<const char*>(x), static_cast<std::streamsize>(HW * sizeof(float)));
        });
      ++report.samples;
      progress.advance(1);
    }
    writes.post([f, part] {
      f->close();
      if (!*f) fail("{}: write failed (disk full?)", part.string());
    });
  }
  writes.finish();
  times.steps = report.samples;
  times.read_s = samples.load_seconds();
  times.read_wait_s = samples.wait_seconds();
  times.write_s += writes.busy_seconds();
  times.write_wait_s += writes.wait_seconds();
  progress.finish();
  if (shared.empty()) return report;

  comm.barrier();  // every part written
  Stopwatch assembling;
  const int64_t per_step = 1 + (o.probabilities ? K : 0);
  std::vector<float> buf(static_cast<size_t>(HW));
  for (size_t g : shared) {
    const int64_t n = static_cast<int64_t>(groups[g].size());
    if (owner(offset[g]) != comm.rank()) continue;
    const fs::path out = output_of(g);
    std::unique_ptr<io::CfWriter> writer = open_writer(g);
    std::map<int, std::ifstream> parts;
    int64_t file_missing = 0;  // missing-input cells of this output, from its parts
    for (int64_t t = 0; t < n; ++t) {
      const int r = owner(offset[g] + t);
      auto it = parts.find(r);
      if (it == parts.end()) {
        it = parts.emplace(r, std::ifstream(part_path(out, r), std::ios::binary)).first;
        if (!it->second) fail("{}: missing part of {}", part_path(out, r).string(), out.string());
      }
      for (int64_t v = 0; v < per_step; ++v) {
        it->second.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(HW * sizeof(float)));
        if (!it->second) fail("{}: truncated part of {}", part_path(out, r).string(), out.string());
        if (v == 0 && o.missing == MissingPolicy::mask)
          file_missing += std::count_if(buf.begin(), buf.end(), [](float x) { return x != x; });
        writer->write(v == 0 ? std::string("class_mask") : prob_names[static_cast<size_t>(v - 1)], t, buf.data());
      }
    }
    if (o.missing == MissingPolicy::mask) writer->set_global_attr("missing_input_cells", std::to_string(file_missing));
    writer->close();
    for (auto& [r, in] : parts) {
      in.close();
      fs::remove(part_path(out, r), ec);
    }
    ++report.files_written;
    report.outputs.push_back(out.string());
  }
  const double assembly = assembling.seconds();
  times.write_s += assembly;
  times.write_wait_s += assembly;
  comm.barrier();  // shared outputs in place on return
  return report;
}

ConfusionMatrix evaluate(const ModelBundle& m, const EvaluateOptions& o, const Comm& comm, int64_t* missing_total) {
  io::Archive archive = open_for(m, o.inputs, o.channels, o.units, o.labels, comm);
  if (!archive.has_labels()) fail("{}: no labels to evaluate against (set --labels)", o.inputs.front());
  Runner runner(m, archive.grid(), nullptr, o.batchnorm);
  const int64_t K = m.config.num_classes(), H = runner.H(), W = runner.W(), Hp = runner.Hp(), Wp = runner.Wp();
  io::Block mine = io::block_partition(archive.size(), comm.rank(), comm.size());
  std::vector<int64_t> idx;
  for (int64_t i = mine.begin; i < mine.end; ++i) idx.push_back(i);
  ConfusionMatrix cm(K);
  std::vector<int32_t> labels(static_cast<size_t>(Hp * Wp)), pred(static_cast<size_t>(H * W)),
      truth(static_cast<size_t>(H * W));
  const std::vector<double> area = archive.grid().row_areas();
  io::Prefetcher samples(archive, idx, 2);
  Progress progress("evaluate", static_cast<int64_t>(idx.size()));
  std::vector<uint8_t> missing;
  int64_t missing_count = 0;
  while (std::optional<io::Sample> s = samples.next()) {
    const int64_t n_missing = missing_cells(*s, o.missing, missing);
    missing_count += n_missing;
    const float* p = runner.run(*s, labels.data());
    argmax_classes(p, K, Hp, Wp, H, W, pred.data());
    crop_labels(labels.data(), Wp, H, W, truth.data());
    if (n_missing > 0 && o.missing == MissingPolicy::mask)
      for (int64_t k = 0; k < H * W; ++k)
        if (missing[static_cast<size_t>(k)]) truth[static_cast<size_t>(k)] = kIgnoreLabel;  // not scored
    cm.add(pred.data(), truth.data(), H, W, area);
    progress.advance(1);
  }
  progress.finish();
  cm.allreduce(comm);
  missing_count = comm.sum(missing_count);
  if (missing_total != nullptr) *missing_total = missing_count;
  return cm;
}

}  // namespace climseg::training
