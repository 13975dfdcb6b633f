// Prediction on unstructured columns through a lat-lon grid and back.
#include "models/training/column_predict.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "models/training/data.hpp"
#include "readers/column_file.hpp"
#include "readers/partition.hpp"
#include "readers/run_key.hpp"
#include "readers/write_provenance.hpp"

namespace climseg::training {
namespace fs = std::filesystem;

PredictReport predict_columns(const ModelBundle& m, const ColumnPredictOptions& o, const Comm& comm) {
  const std::vector<std::string> names = o.channels.empty() ? m.config.channels : o.channels;
  if (names.size() != m.config.channels.size())
    fail_usage("--channels: {} given, the model expects {} ({})", names.size(), m.config.channels.size(),
               fmt::join(m.config.channels, ","));
  const io::ColumnArchive archive = io::ColumnArchive::open(o.inputs, names);
  // The grid and both matrices once, on the root.
  geo::UnstructuredGrid grid;
  geo::RemapWeights to_grid, back;
  if (comm.is_root()) {
    grid = io::read_unstructured_grid(archive.files().front());
    to_grid = o.method == geo::RemapMethod::conservative ? geo::conservative_weights(grid, o.grid)
                                                         : geo::bilinear_weights(grid, o.grid);
    back = geo::bilinear_weights(o.grid, grid);
  }
  grid.broadcast(comm);
  to_grid.broadcast(comm);
  back.broadcast(comm);
  log::info("predict --remap: {} ({} columns) -> {} ({}) and back (bilinear)", archive.layout().description,
            grid.size(), o.grid.shape_str(), geo::remap_method_name(o.method));

  std::error_code ec;
  if (comm.is_root()) fs::create_directories(o.out_dir, ec);
  comm.barrier();
  if (!fs::is_directory(o.out_dir)) fail("{}: cannot create the output directory", o.out_dir.string());
  for (const std::string& f : archive.files())
    if (fs::equivalent(fs::path(f).parent_path(), o.out_dir, ec) && f.size() > o.suffix.size() &&
        f.substr(f.size() - o.suffix.size()) == o.suffix)
      fail_usage("{}: an input would be overwritten by an output; choose another --out", f);

  const int64_t K = m.config.num_classes(), N = grid.size(), C = int64_t(names.size());
  const int64_t H = o.grid.height(), W = o.grid.width();
  std::vector<std::string> prob_names;
  for (const std::string& c : m.config.classes) {
    std::string name = "prob_" + c;
    std::replace(name.begin(), name.end(), ' ', '_');
    prob_names.push_back(name);
  }
  io::ColumnFileSpec spec = io::column_spec(grid);
  spec.column_dim = archive.layout().dimension;
  spec.time_units = archive.time_units().empty() ? "days since 0001-01-01 00:00:00" : archive.time_units();
  spec.calendar = archive.calendar();
  std::vector<double> flags;
  std::string meanings;
  for (size_t c = 0; c < m.config.classes.size(); ++c) {
    flags.push_back(double(c));
    std::string name = m.config.classes[c];
    std::replace(name.begin(), name.end(), ' ', '_');
    meanings += (c ? " " : "") + name;
  }
  spec.variables.push_back({"class_mask",
                            NC_BYTE,
                            true,
                            {io::Attr::str("long_name", "most probable class"),
                             io::Attr::num("flag_values", NC_BYTE, flags), io::Attr::str("flag_meanings", meanings)},
                            -1.0});
  if (o.probabilities)
    for (size_t c = 0; c < prob_names.size(); ++c)
      spec.variables.push_back({prob_names[c],
                                NC_FLOAT,
                                true,
                                {io::Attr::str("long_name", "probability of " + m.config.classes[c]),
                                 io::Attr::str("units", "1"), io::Attr::num("valid_range", NC_FLOAT, {0, 1})},
                                std::nullopt});
  spec.global_attrs = {
      io::Attr::str("title", "climseg predictions on unstructured columns"),
      io::Attr::str("model_kind", m.kind),
      io::Attr::str("model_architecture", m.config.type),
      io::Attr::str("model_channels", fmt::format("{}", fmt::join(m.config.channels, ","))),
      io::Attr::str("model_grid", fmt::format("{} ({} remap of the columns to it, bilinear back; class_mask is the "
                                              "argmax of the remapped probabilities)",
                                              o.grid.shape_str(), geo::remap_method_name(o.method))),
      io::Attr::str("source_grid", archive.layout().description),
      io::Attr::str("checkpoint", m.source)};

  const std::string model_sha256 = io::file_sha256(m.source);
  const std::vector<io::Attr> common_attrs = spec.global_attrs;
  GridPredictor net(m, o.grid);
  PredictReport report;
  const int64_t nfiles = int64_t(archive.files().size());
  const io::Block mine = io::block_partition(nfiles, comm.rank(), comm.size());
  Tensor cols = Tensor::empty({C, N});
  std::vector<float> mask(static_cast<size_t>(N));
  Progress progress("predict", mine.size());
  for (int64_t f = mine.begin; f < mine.end; ++f) {
    const std::string& file = archive.files()[size_t(f)];
    const fs::path out = o.out_dir / (fs::path(file).stem().string() + o.suffix);
    const io::RunKey key = io::make_run_key("predict", o.key_config, {file}, model_sha256);
    if (io::keep_existing(out, key, o.rerun)) {
      ++report.files_skipped;
      progress.advance(1);
      continue;
    }
    spec.global_attrs = common_attrs;
    spec.global_attrs.push_back(io::Attr::str(io::kRunKeyAttr, key.text()));
    io::ColumnWriter writer(out, spec);
    int64_t t = 0;
    for (int64_t i = 0; i < archive.size(); ++i) {
      if (archive.steps()[size_t(i)].file != file) continue;
      const io::Sample s = archive.sample(i);
      // Missing values take the channel's normalization shift (0 once normalised) before remapping.
      for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < N; ++k) {
          const bool ok = s.valid.numel() == 0 || s.valid[c * N + k] > 0.5f;
          cols[c * N + k] = ok ? s.data[c * N + k] : m.normalizer.shift[size_t(c)];
        }
      io::Sample r;
      r.grid = o.grid;
      r.file = file;
      r.channels = s.channels;
      r.units = s.units;
      r.data = to_grid.apply(cols).reshape({C, H, W});
      Tensor p = back.apply(net.probabilities(r).reshape({K, H * W}));  // (K, N)
      for (float& v : p) v = std::clamp(v, 0.0f, 1.0f);
      argmax_classes(p.data(), K, 1, N, 1, N, mask.data());
      writer.write_time(t, s.time_value);
      writer.write("class_mask", t, mask);
      if (o.probabilities)
        for (int64_t c = 0; c < K; ++c)
          writer.write(prob_names[size_t(c)], t, std::span<const float>(p.data() + c * N, size_t(N)));
      ++t;
      ++report.samples;
    }
    writer.close();
    ++report.files_written;
    report.outputs.push_back(out.string());
    progress.advance(1);
  }
  progress.finish();
  return report;
}

}  // namespace climseg::training
