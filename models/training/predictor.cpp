// Prediction and evaluation over archives.
#include "models/training/predictor.hpp"

#include <algorithm>
#include <map>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/writer.hpp"

namespace climseg::training {
namespace fs = std::filesystem;

namespace {

// One network compiled for the archive's grid (padded to its size multiple), run one sample at a
// time: probabilities (K, Hp, Wp) after softmax.
class Runner {
 public:
  Runner(const ModelBundle& m, const geo::Grid& grid)
      : model_(m),
        H_(grid.height()),
        W_(grid.width()),
        Hp_(round_up(H_, m.net->size_multiple())),
        Wp_(round_up(W_, m.net->size_multiple())),
        graph_(m.params.get(), nn::Graph::Mode::eval) {
    x_ = graph_.input("x", {1, m.config.in_channels(), Hp_, Wp_});
    prob_ = nn::softmax(m.net->forward(x_));
    graph_.compile({prob_});
    negate_ = zonal_wind_channels(m.config.channels);
  }
  // Probabilities of one sample, (K, Hp, Wp); labels (Hp, Wp) filled when `labels` is not null.
  const float* run(const io::Sample& s, int32_t* labels) {
    fill_input(s, model_.normalizer, Hp_, Wp_, {}, negate_, model_.config.num_classes(), graph_.tensor(x_).data(),
               labels);
    graph_.forward();
    return graph_.tensor(prob_).data();
  }
  int64_t H() const { return H_; }
  int64_t W() const { return W_; }
  int64_t Hp() const { return Hp_; }
  int64_t Wp() const { return Wp_; }

 private:
  const ModelBundle& model_;
  int64_t H_, W_, Hp_, Wp_;
  nn::Graph graph_;
  nn::Value x_, prob_;
  std::vector<bool> negate_;
};

io::Archive open_for(const ModelBundle& m, const std::vector<std::string>& inputs, const std::string& channels,
                     const std::string& labels, const Comm& comm) {
  io::ArchiveOptions o;
  o.channels = io::parse_channels(channels.empty() ? m.channel_specs() : channels);
  o.labels = labels;
  o.comm = comm;
  io::Archive a = io::Archive::open(inputs, o);
  if (a.channel_names().size() != m.config.channels.size())
    fail_usage("the archive gives {} channels, the model expects {} ({})", a.channel_names().size(),
               m.config.channels.size(), fmt::join(m.config.channels, ","));
  return a;
}

// Samples grouped by input file group, in time order.
std::vector<std::vector<int64_t>> groups_of(const io::Archive& a) {
  std::map<int64_t, std::vector<int64_t>> by_group;
  for (int64_t i = 0; i < a.size(); ++i) by_group[a.info(i).group].push_back(i);
  std::vector<std::vector<int64_t>> out;
  for (auto& [g, v] : by_group) out.push_back(std::move(v));
  return out;
}

}  // namespace

PredictReport predict(const ModelBundle& m, const PredictOptions& o, const Comm& comm) {
  io::Archive archive = open_for(m, o.inputs, o.channels, "", comm);
  std::error_code ec;
  if (comm.is_root()) fs::create_directories(o.out_dir, ec);
  comm.barrier();
  if (!fs::is_directory(o.out_dir)) fail("{}: cannot create the output directory", o.out_dir.string());
  // Inputs are never overwritten.
  for (const io::FileMeta& f : archive.files())
    for (const std::string& name : {fs::path(f.path).filename().string()})
      if (fs::equivalent(fs::path(f.path).parent_path(), o.out_dir, ec) && name.size() > o.suffix.size() &&
          name.substr(name.size() - o.suffix.size()) == o.suffix)
        fail_usage("{}: an input would be overwritten by an output; choose another --out", f.path);

  auto groups = groups_of(archive);
  io::Block mine = io::block_partition(static_cast<int64_t>(groups.size()), comm.rank(), comm.size());
  PredictReport report;
  int64_t my_samples = 0;
  for (int64_t g = mine.begin; g < mine.end; ++g)
    my_samples += static_cast<int64_t>(groups[static_cast<size_t>(g)].size());
  Runner runner(m, archive.grid());
  const int64_t K = m.config.num_classes(), H = runner.H(), W = runner.W(), Hp = runner.Hp(), Wp = runner.Wp();
  std::vector<float> mask(static_cast<size_t>(H * W)), prob(static_cast<size_t>(H * W));
  Progress progress("predict", my_samples);
  for (int64_t g = mine.begin; g < mine.end; ++g) {
    const auto& idx = groups[static_cast<size_t>(g)];
    const io::SampleInfo first = archive.info(idx.front());
    const fs::path stem = fs::path(first.file).stem();
    const fs::path out = o.out_dir / (stem.string() + o.suffix);
    if (!o.overwrite && fs::exists(out)) {
      ++report.files_skipped;
      progress.advance(static_cast<int64_t>(idx.size()), "skipped complete " + out.filename().string());
      continue;
    }
    const io::FileMeta* meta = nullptr;
    for (const io::FileMeta& f : archive.files())
      if (f.path == first.file) meta = &f;
    if (meta == nullptr) fail("internal: no metadata for {}", first.file);
    io::OutputSpec spec = io::output_like(*meta);
    spec.time_steps = static_cast<int64_t>(idx.size());
    spec.variables.push_back(io::mask_field("class_mask", m.config.classes, "most probable class"));
    if (o.probabilities)
      for (const std::string& c : m.config.classes) {
        std::string name = "prob_" + c;
        std::replace(name.begin(), name.end(), ' ', '_');
        spec.variables.push_back(io::probability_field(name, "probability of " + c));
      }
    spec.global_attrs.push_back(io::Attr::str("title", "climseg predictions"));
    spec.global_attrs.push_back(io::Attr::str("model_kind", m.kind));
    spec.global_attrs.push_back(io::Attr::str("model_architecture", m.config.type));
    spec.global_attrs.push_back(io::Attr::str("model_channels", fmt::format("{}", fmt::join(m.config.channels, ","))));
    spec.provenance.checkpoint = m.source;
    spec.provenance.inputs = {first.file};
    io::CfWriter writer(out, spec);
    std::vector<double> times;
    for (int64_t i : idx) times.push_back(archive.info(i).time_value);
    if (!spec.time_units.empty()) writer.write_time(0, times);
    io::Prefetcher samples(archive, idx, 2);
    for (size_t t = 0; t < idx.size(); ++t) {
      std::optional<io::Sample> s = samples.next();
      if (!s) fail("internal: missing sample {} of {}", t, first.file);
      const float* p = runner.run(*s, nullptr);
      argmax_classes(p, K, Hp, Wp, H, W, mask.data());
      writer.write("class_mask", static_cast<int64_t>(t), mask.data());
      if (o.probabilities)
        for (int64_t c = 0; c < K; ++c) {
          for (int64_t i = 0; i < H; ++i)
            std::copy(p + (c * Hp + i) * Wp, p + (c * Hp + i) * Wp + W, prob.data() + i * W);
          writer.write(spec.variables[static_cast<size_t>(1 + c)].name, static_cast<int64_t>(t), prob.data());
        }
      ++report.samples;
      progress.advance(1);
    }
    writer.close();
    ++report.files_written;
    report.outputs.push_back(out.string());
  }
  progress.finish();
  return report;
}

ConfusionMatrix evaluate(const ModelBundle& m, const EvaluateOptions& o, const Comm& comm) {
  io::Archive archive = open_for(m, o.inputs, o.channels, o.labels, comm);
  if (!archive.has_labels()) fail("{}: no labels to evaluate against (set --labels)", o.inputs.front());
  Runner runner(m, archive.grid());
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
  while (std::optional<io::Sample> s = samples.next()) {
    const float* p = runner.run(*s, labels.data());
    argmax_classes(p, K, Hp, Wp, H, W, pred.data());
    crop_labels(labels.data(), Wp, H, W, truth.data());
    cm.add(pred.data(), truth.data(), H, W, area);
    progress.advance(1);
  }
  progress.finish();
  cm.allreduce(comm);
  return cm;
}

}  // namespace climseg::training
