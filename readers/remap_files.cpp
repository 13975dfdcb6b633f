// Remapping whole files between unstructured columns and lat-lon grids.
#include "readers/remap_files.hpp"

#include <regex>

#include "core/error.hpp"
#include "geo/cubed_sphere.hpp"
#include "readers/archive.hpp"
#include "readers/column_file.hpp"
#include "readers/partition.hpp"
#include "readers/scrip.hpp"
#include "readers/writer.hpp"

namespace climseg::io {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  for (size_t a = 0, b; a <= s.size() && !s.empty(); a = b + 1) {
    b = std::min(s.find(',', a), s.size());
    out.push_back(s.substr(a, b - a));
  }
  return out;
}

// Columns -> lat-lon.
RemapFilesReport columns_to_latlon(const RemapFilesOptions& o, const Comm& comm) {
  std::smatch m;
  if (!std::regex_match(o.to, m, std::regex(R"((\d+)x(\d+))")))
    fail_usage("--to {}: the input has unstructured columns, so the target is a lat-lon grid HxW", o.to);
  const geo::Grid target = geo::Grid::cam(std::stoll(m[1]), std::stoll(m[2]));
  if (target.height() < 3 || target.width() < 3) fail_usage("--to {}: too small a grid", o.to);
  const ColumnArchive archive = ColumnArchive::open(o.inputs, split(o.vars));
  geo::RemapWeights w;
  if (comm.is_root()) {
    const geo::UnstructuredGrid grid = read_unstructured_grid(archive.files().front());
    w = o.method == geo::RemapMethod::conservative ? geo::conservative_weights(grid, target)
                                                   : geo::bilinear_weights(grid, target);
    if (!o.weights_out.empty()) write_scrip_weights(o.weights_out, w, archive.layout().description, target.shape_str());
  }
  w.broadcast(comm);
  RemapFilesReport r{0, 0, archive.layout().description, target.shape_str(), w.nnz()};
  const int64_t N = archive.layout().columns, C = int64_t(archive.channel_names().size());
  const Block mine = block_partition(int64_t(archive.files().size()), comm.rank(), comm.size());
  std::vector<float> out(size_t(target.size()));
  for (int64_t f = mine.begin; f < mine.end; ++f) {
    const std::string& file = archive.files()[size_t(f)];
    OutputSpec spec;
    spec.grid = target;
    if (!archive.time_units().empty()) spec.set_time(archive.time_units(), archive.calendar());
    for (int64_t c = 0; c < C; ++c)
      spec.variables.push_back(
          float_field(archive.channel_names()[size_t(c)], archive.channel_units()[size_t(c)],
                      archive.channel_names()[size_t(c)] + " remapped from " + archive.layout().description));
    spec.global_attrs.push_back(
        Attr::str("title", fmt::format("climseg remap ({}) of {} to {}", geo::remap_method_name(o.method),
                                       archive.layout().description, target.shape_str())));
    spec.provenance.inputs = {file};
    CfWriter writer(o.out_dir / (fs::path(file).stem().string() + o.suffix), spec);
    int64_t t = 0;
    for (int64_t i = 0; i < archive.size(); ++i) {
      if (archive.steps()[size_t(i)].file != file) continue;
      if (spec.has_time()) writer.write_time(t, std::vector<double>{archive.steps()[size_t(i)].time_value});
      for (int64_t c = 0; c < C; ++c) {
        const std::vector<float> v = archive.read(archive.channel_names()[size_t(c)], i);
        if (int64_t(v.size()) != N) fail("{}: {} values, expected {}", file, v.size(), N);
        w.apply(v, out);
        writer.write(archive.channel_names()[size_t(c)], t, out.data());
      }
      ++t;
      ++r.steps;
    }
    writer.close();
    ++r.files;
  }
  return r;
}

// Lat-lon -> columns.
RemapFilesReport latlon_to_columns(const RemapFilesOptions& o, const Comm& comm) {
  ArchiveOptions ao;
  if (!o.vars.empty()) ao.channels = parse_channels(o.vars);
  ao.comm = comm;
  Archive archive = Archive::open(o.inputs, ao);
  geo::UnstructuredGrid grid;
  geo::RemapWeights w;
  if (comm.is_root()) {
    if (const auto spec = geo::parse_cubed_sphere(o.to)) {
      grid = geo::cubed_sphere_grid(*spec);
    } else if (fs::exists(o.to)) {
      grid = read_unstructured_grid(o.to);
    } else {
      fail_usage(
          "--to {}: the input is on a lat-lon grid, so the target is a cubed sphere (ne30np4) or a file of "
          "columns (CAM-SE ncol, SCRIP grid, UGRID mesh)",
          o.to);
    }
    w = o.method == geo::RemapMethod::conservative ? geo::conservative_weights(archive.grid(), grid)
                                                   : geo::bilinear_weights(archive.grid(), grid);
    if (!o.weights_out.empty()) write_scrip_weights(o.weights_out, w, archive.grid().shape_str(), grid.description);
  }
  grid.broadcast(comm);
  w.broadcast(comm);
  RemapFilesReport r{0, 0, archive.grid().shape_str(), grid.description.empty() ? o.to : grid.description, w.nnz()};
  const int64_t C = int64_t(archive.channel_names().size()), HW = archive.grid().size(), N = grid.size();
  // One output per file group (files sharing a time axis), in time order.
  std::vector<std::vector<int64_t>> groups;
  for (int64_t i = 0; i < archive.size(); ++i) {
    const int64_t g = archive.info(i).group;
    if (size_t(g) >= groups.size()) groups.resize(size_t(g) + 1);
    groups[size_t(g)].push_back(i);
  }
  const Block mine = block_partition(int64_t(groups.size()), comm.rank(), comm.size());
  std::vector<float> in(static_cast<size_t>(HW)), out(static_cast<size_t>(N));
  for (int64_t g = mine.begin; g < mine.end; ++g) {
    const auto& idx = groups[size_t(g)];
    if (idx.empty()) continue;
    const SampleInfo first = archive.info(idx.front());
    ColumnFileSpec spec = column_spec(grid);
    std::string units, calendar = archive.calendar();
    for (const FileMeta& f : archive.files())
      if (f.path == first.file) units = f.time_units;
    spec.time_units = units.empty() ? "days since 0001-01-01 00:00:00" : units;
    spec.calendar = calendar;
    for (int64_t c = 0; c < C; ++c)
      spec.variables.push_back({archive.channel_names()[size_t(c)],
                                NC_FLOAT,
                                true,
                                {Attr::str("units", archive.channel_units()[size_t(c)])},
                                std::nullopt});
    spec.global_attrs = {
        Attr::str("title", fmt::format("climseg remap ({}) of {} to {}", geo::remap_method_name(o.method),
                                       archive.grid().shape_str(), r.target))};
    if (const auto cs = geo::parse_cubed_sphere(o.to); cs && cs->pg == 0) {
      spec.global_attrs.push_back(Attr::i32("ne", cs->ne));
      spec.global_attrs.push_back(Attr::i32("np", cs->np));
    }
    ColumnWriter writer(o.out_dir / (fs::path(first.file).stem().string() + o.suffix), spec);
    for (size_t t = 0; t < idx.size(); ++t) {
      const Sample s = archive.load(idx[t]);
      writer.write_time(int64_t(t), archive.info(idx[t]).time_value);
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t k = 0; k < HW; ++k)
          in[size_t(k)] = s.valid.numel() == 0 || s.valid[c * HW + k] > 0.5f ? s.data[c * HW + k] : NAN;
        w.apply(in, out);
        writer.write(archive.channel_names()[size_t(c)], int64_t(t), out);
      }
      ++r.steps;
    }
    writer.close();
    ++r.files;
  }
  return r;
}

}  // namespace

RemapFilesReport remap_files(const RemapFilesOptions& o, const Comm& comm) {
  std::error_code ec;
  if (comm.is_root()) fs::create_directories(o.out_dir, ec);
  comm.barrier();
  if (!fs::is_directory(o.out_dir)) fail("{}: cannot create the output directory", o.out_dir.string());
  return ColumnArchive::is_columns(o.inputs) ? columns_to_latlon(o, comm) : latlon_to_columns(o, comm);
}

}  // namespace climseg::io
