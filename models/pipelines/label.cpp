// label_archive: two passes over the archive. Pass 1 finds cyclone candidates on every step (steps
// split over ranks), gathers them on every rank and stitches tracks; pass 2 writes the class maps,
// one label file per input time-step group (groups split over ranks), then the root writes the tables.
#include "models/pipelines/label.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "geo/column.hpp"
#include "models/heuristics/labels.hpp"
#include "models/heuristics/tc_candidate_wire.hpp"
#include "models/pipelines/column_label.hpp"
#include "readers/column_file.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/run_key.hpp"
#include "readers/stats.hpp"
#include "readers/write_behind.hpp"
#include "readers/writer.hpp"

namespace climseg::pipelines {

namespace fs = std::filesystem;
using heuristics::ArMethod;
using heuristics::TcCandidate;
using Json = nlohmann::json;

namespace {

constexpr const char* kRiversAttr = "climseg_label_rivers_csv";
constexpr const char* kSummaryAttr = "climseg_label_step_counts";

std::vector<Role> to_roles(const std::vector<std::string>& names) {
  std::vector<Role> out;
  for (const auto& n : names)
    if (auto r = parse_role(n)) out.push_back(*r);
  return out;
}

Json roles_json(const RoleMap& roles) {
  Json j = Json::object();
  for (const auto& [r, s] : roles) j[role_name(r)] = s;
  return j;
}

// A per-cell threshold "FILE:VAR": the first time step of VAR, on the archive's grid.
void load_threshold_field(const std::string& spec, const geo::Grid& grid, std::vector<float>& out, const char* option) {
  if (spec.empty()) return;
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
    fail_usage("{} {}: expected FILE:VARIABLE", option, spec);
  io::ArchiveOptions o;
  o.channels = {io::ChannelSpec::parse(spec.substr(colon + 1))};
  io::Archive a = io::Archive::open({spec.substr(0, colon)}, o);
  if (!a.grid().same_as(grid, 1e-4))
    fail("{}: grid {} differs from the archive's {}", spec.substr(0, colon), a.grid().shape_str(), grid.shape_str());
  const io::Sample s = a.load(0);
  out.assign(s.data.data(), s.data.data() + grid.size());
  if (s.valid.numel() > 0)
    for (int64_t k = 0; k < grid.size(); ++k)
      if (s.valid[k] == 0.0f) out[size_t(k)] = std::numeric_limits<float>::infinity();  // never exceeded
}

// A label file from an earlier run: complete (atomic writes: it exists, so it was finished) and
// holding `steps` steps of LABELS with its summary attributes. Appends its rows; false otherwise.
bool read_back(const std::string& path, int64_t steps, std::string& river_rows, std::string& summary_rows) {
  const auto kept = io::read_kept_output(path, "LABELS", 3, {kRiversAttr, kSummaryAttr});
  if (!kept || kept->steps != steps) return false;
  const std::string& summary = kept->attrs.at(kSummaryAttr);
  if (std::count(summary.begin(), summary.end(), '\n') != steps) return false;
  river_rows += kept->attrs.at(kRiversAttr);
  summary_rows += summary;
  return true;
}

// The roles a configuration's detectors need, checked against those present (`has`) as
// label_archive checks an archive; resolves config.ar_method (auto: IVT when there, else TMQ).
void check_detector_roles(heuristics::DetectConfig& config, const std::function<bool(Role)>& has,
                          const std::string& where) {
  auto need = [&](Role role, const char* what) {
    if (!has(role))
      fail("{}: the archive has no {} field (tried {}; name one with --var {}=VARIABLE)", where, what,
           fmt::format("{}", fmt::join(role_defaults(role), ", ")), role_name(role));
  };
  if (config.cyclones) {
    need(Role::u850, "850 hPa zonal wind");
    need(Role::v850, "850 hPa meridional wind");
    need(Role::psl, "sea-level pressure");
    if (config.tracks.require_warm_core && (!has(Role::t200) || !has(Role::t500)))
      log::warn(
          "no T200/T500: the warm-core test cannot pass, so no track reaches the wind duration unless "
          "--var t200=... and t500=... are given (or --tc-no-warm-core)");
    if (config.tracks.require_thickness && (!has(Role::z200) || !has(Role::z1000)))
      log::warn(
          "no Z200/Z1000: the thickness test cannot pass (name them with --var z200=... z1000=..., or "
          "--tc-no-thickness)");
    // Kurth et al.'s masks use TMQ, wind and precipitation; without some of them the mask is made
    // from the others (the wind is always there: the candidates need it).
    std::vector<std::string> missing;
    for (Role r : {Role::tmq, Role::prect})
      if (!has(r)) missing.push_back(role_name(r));
    if (!missing.empty())
      log::warn("no {} field: cyclone masks are made from the fields that are there (wind{})",
                fmt::format("{}", fmt::join(missing, ", ")),
                has(Role::tmq)     ? ", TMQ"
                : has(Role::prect) ? ", precipitation"
                                   : " only");
  }
  if (config.rivers) {
    const bool ivt = has(Role::ivt) || (has(Role::q3d) && has(Role::u3d) && has(Role::v3d));
    if (config.ar_method == ArMethod::ivt && !ivt)
      fail("{}: --ar-method ivt needs an IVT field or 3-D Q, U and V on levels", where);
    if (config.ar_method == ArMethod::automatic && !ivt && !has(Role::tmq))
      fail("{}: the river detector needs IVT (or 3-D Q, U, V) or TMQ", where);
    if (config.ar_method == ArMethod::tmq) need(Role::tmq, "TMQ (integrated water vapour)");
    if (config.ar_method == ArMethod::automatic && !ivt) config.ar_method = ArMethod::tmq;
    if (config.ar_method == ArMethod::automatic) config.ar_method = ArMethod::ivt;
  }
  if (config.waves) need(Role::hs, "significant wave height");
}

// One run of label_archive: the configuration, the roles as resolved, the loaded threshold fields.
class Labeller {
 public:
  Labeller(const LabelConfig& cfg, const Comm& comm, bool show_progress)
      : cfg_(cfg), comm_(comm), progress_(show_progress), config_(cfg.detect) {}

  LabelReport run();

 private:
  struct Loaded {
    heuristics::StepFields fields;
    std::map<std::string, std::vector<float>> owned;  // IVT computed from 3-D fields
  };

  bool has(Role r) const { return roles_.count(r) > 0; }
  const std::string& input_name() const { return cfg_.inputs.front(); }
  void check_roles();
  void thresholds();
  io::Archive open_with(const std::vector<Role>& roles, const std::string& extra, int read_threads = 0) const;
  void candidates_in_lanes(const std::vector<Role>& roles, const std::vector<int64_t>& steps,
                           const std::vector<double>& days, int lanes, std::vector<TcCandidate>& found,
                           Progress& progress);
  Loaded fields_of(const io::Archive& a, const io::Sample& s, const std::vector<Role>& roles) const;
  std::string output_name(const std::string& input, std::set<std::string>& used) const;
  void write_group(const io::Archive& a, int64_t first, int64_t last, const std::string& path, const io::RunKey& key,
                   const std::map<int64_t, std::vector<geo::LatLon>>& centres, const std::vector<std::string>& iso,
                   std::string& river_rows, std::string& summary_rows, Progress& progress, StageTimes& times,
                   int64_t& samples_read, bool background) const;
  // One label file to write: its steps, path and key.
  struct GroupJob {
    int64_t first, last;
    std::string path;
    io::RunKey key;
  };
  void groups_in_lanes(const std::vector<Role>& roles, const std::vector<GroupJob>& jobs,
                       const std::map<int64_t, std::vector<geo::LatLon>>& centres, const std::vector<std::string>& iso,
                       std::vector<std::string>& river_rows, std::vector<std::string>& summary_rows, int lanes,
                       Progress& progress);
  std::vector<Role> mask_roles() const;
  std::vector<Role> all_mask_roles() const;
  // The class map of step i from its sample (null when pass 2 reads none: masks_ has them all).
  heuristics::StepLabels labels_of(const io::Archive& a, const io::Sample* s, int64_t i,
                                   const std::map<int64_t, std::vector<geo::LatLon>>& centres) const;

  const LabelConfig& cfg_;
  const Comm& comm_;
  bool progress_;
  heuristics::DetectConfig config_;  // cfg_.detect with the thresholds and ar method resolved
  RoleMap roles_;
  std::vector<float> ivt_threshold_field_, waves_threshold_field_;
  mutable StageTimes times_;  // this rank's
  mutable int64_t samples_read_ = 0;
  // The cyclone mask of each candidate pass 1 found on this rank, by (step, lat, lon): a track
  // point is a candidate, so pass 2 sets these instead of reading the step's fields again.
  std::map<std::tuple<int64_t, double, double>, std::vector<heuristics::MaskRun>> masks_;
  bool masks_cached_ = false;      // masks_ holds every centre of this run's steps (all ranks)
  std::vector<Role> pass2_roles_;  // what pass 2 reads (empty: nothing, when masks_cached_)
};

void Labeller::check_roles() {
  check_detector_roles(
      config_, [&](Role r) { return has(r); }, input_name());
}

void Labeller::thresholds() {
  config_.ivt.threshold =
      label_threshold_value(cfg_.ivt_threshold, cfg_.stats,
                            has(Role::ivt) ? channel_name_of(roles_.at(Role::ivt)) : "IVT", "--ivt-threshold");
  config_.wave.threshold_m =
      label_threshold_value(cfg_.waves_threshold, cfg_.stats,
                            has(Role::hs) ? channel_name_of(roles_.at(Role::hs)) : "hs", "--waves-threshold");
  config_.ivt.validate();
  config_.tmq.validate();
  config_.wave.validate();
}

io::Archive Labeller::open_with(const std::vector<Role>& roles, const std::string& extra, int read_threads) const {
  io::ArchiveOptions o;
  o.units_override = cfg_.units;
  o.read_threads = read_threads;
  std::set<std::string> seen;
  for (const Role r : roles) {
    auto it = roles_.find(r);
    if (it == roles_.end() || is_3d(r)) continue;
    if (seen.insert(it->second).second) o.channels.push_back(role_spec(r, it->second));
  }
  if (!extra.empty())
    for (const auto& spec : io::parse_channels(extra))
      if (seen.insert(spec.text).second) o.channels.push_back(spec);
  if (o.channels.empty()) {
    // A detector that only needs 3-D fields: read one small channel so the archive has samples.
    if (!has(Role::q3d)) fail("{}: none of the fields the detectors need is in the archive", input_name());
    o.channels.push_back(io::ChannelSpec::parse(roles_.at(Role::q3d) + "@#0"));
  }
  return io::Archive::open(cfg_.inputs, o);
}

// Role planes of a loaded sample, in SI (the archive converted them: role_spec); IVT integrated
// from 3-D fields when asked for and not in the archive.
Labeller::Loaded Labeller::fields_of(const io::Archive& a, const io::Sample& s, const std::vector<Role>& roles) const {
  Loaded l;
  l.fields.grid = &s.grid;
  const int64_t n = s.grid.size();
  for (const Role r : roles) {
    auto it = roles_.find(r);
    if (it == roles_.end() || is_3d(r)) continue;
    const std::string ch = channel_name_of(it->second);
    const int c = s.channel_index(ch);
    if (c < 0) fail("{}: channel {} missing from the sample", s.file, ch);
    l.fields.planes[role_name(r)] = {s.data.data() + c * n, size_t(n)};
    if (s.valid.numel() > 0) l.fields.valid[role_name(r)] = {s.valid.data() + c * n, size_t(n)};
  }
  const bool want_ivt = std::find(roles.begin(), roles.end(), Role::q3d) != roles.end() && !has(Role::ivt) &&
                        has(Role::q3d) && has(Role::u3d) && has(Role::v3d);
  if (want_ivt) {
    auto load = [&](Role r) { return a.load_field(s.index, roles_.at(r), io::quantity_of_role(role_name(r))->units); };
    const auto q = load(Role::q3d);
    const auto u = load(Role::u3d);
    const auto v = load(Role::v3d);
    geo::VerticalLevels lv;
    if (q.hybrid()) {
      lv = geo::VerticalLevels::cam_hybrid(q.hyam, q.hybm, q.p0);
    } else if (!q.level_pa.empty()) {
      lv = geo::VerticalLevels::pressure(q.level_pa);
    } else {
      fail("{}: {} has neither pressure levels nor hybrid coefficients: IVT cannot be integrated", q.file, q.var);
    }
    auto& ivt = l.owned["ivt"];
    auto& iu = l.owned["ivt_u"];
    auto& iv = l.owned["ivt_v"];
    ivt.assign(size_t(n), 0.0f);
    iu.assign(size_t(n), 0.0f);
    iv.assign(size_t(n), 0.0f);
    std::vector<float> valid;
    if (q.valid.numel() > 0 || u.valid.numel() > 0 || v.valid.numel() > 0) {
      valid.assign(size_t(q.data.numel()), 1.0f);
      for (const auto* f : {&q, &u, &v})
        if (f->valid.numel() == q.data.numel())
          for (size_t k = 0; k < valid.size(); ++k) valid[k] *= f->valid[int64_t(k)];
    }
    std::span<const float> ps =
        q.ps.numel() > 0 ? std::span<const float>(q.ps.data(), size_t(q.ps.numel())) : std::span<const float>{};
    geo::integrated_vapour_transport(lv, {q.data.data(), size_t(q.data.numel())},
                                     {u.data.data(), size_t(u.data.numel())}, {v.data.data(), size_t(v.data.numel())},
                                     ps, valid, {iu, iv, ivt});
    l.fields.planes["ivt"] = ivt;
  }
  return l;
}

std::string Labeller::output_name(const std::string& input, std::set<std::string>& used) const {
  std::string stem = fs::path(input).stem().string();
  std::string name = stem + ".labels.nc";
  for (int k = 2; used.count(name); ++k) name = fmt::format("{}.{}.labels.nc", stem, k);
  used.insert(name);
  return (fs::path(cfg_.out) / name).string();
}

// The roles pass 2 reads: the detectors' mask roles, and for cyclone masks without near-surface
// winds the 850 hPa winds (the wind speed the candidates used).
std::vector<Role> Labeller::mask_roles() const {
  auto r = to_roles(heuristics::mask_roles(config_));
  if (config_.cyclones && !(has(Role::ubot) && has(Role::vbot))) r.insert(r.end(), {Role::u850, Role::v850});
  return r;
}

std::vector<Role> Labeller::all_mask_roles() const {
  auto r = mask_roles();
  r.insert(r.end(), {Role::q3d, Role::u3d, Role::v3d});
  return r;
}

void Labeller::write_group(const io::Archive& a, int64_t first, int64_t last, const std::string& path,
                           const io::RunKey& key, const std::map<int64_t, std::vector<geo::LatLon>>& centres,
                           const std::vector<std::string>& iso, std::string& river_rows, std::string& summary_rows,
                           Progress& progress, StageTimes& times, int64_t& samples_read, bool background) const {
  const io::SampleInfo info0 = a.info(first);
  const io::FileMeta* meta = nullptr;
  for (const auto& f : a.files())
    if (f.path == info0.file) meta = &f;
  if (meta == nullptr) fail("{}: file metadata not found", info0.file);
  io::OutputSpec spec = io::output_like(*meta);
  spec.provenance.run_key = key.text();
  spec.variables.push_back(io::mask_field("LABELS", heuristics::class_names(), "heuristic labels (climseg label)"));
  spec.variables.back().attrs.push_back(
      io::Attr::str("comment", "priority where classes overlap: tropical_cyclone > atmospheric_river > extreme_waves"));
  std::vector<std::pair<std::string, int>> data_channels;
  if (!cfg_.with_data.empty())
    for (const auto& cs : io::parse_channels(cfg_.with_data)) {
      const int c = [&] {
        for (size_t k = 0; k < a.channel_names().size(); ++k)
          if (a.channel_names()[k] == cs.name) return int(k);
        return -1;
      }();
      if (c < 0) fail("--with-data: channel {} not in the archive", cs.name);
      data_channels.emplace_back(cs.name, c);
      spec.variables.push_back(io::float_field(cs.name, a.channel_units()[size_t(c)], cs.name));
    }
  spec.global_attrs.push_back(io::Attr::str("title", "climseg heuristic labels"));
  spec.global_attrs.push_back(io::Attr::str("detectors", cfg_.detector_text()));
  // The writer is opened here; the steps are written behind (cfg_.overlap) in the order labelled.
  std::shared_ptr<io::CfWriter> writer;
  {
    Stopwatch w;
    writer = std::make_shared<io::CfWriter>(path, spec);
    const double seconds = w.seconds();
    times.write_s += seconds;
    times.write_wait_s += seconds;
  }
  io::WriteBehind writes(background);
  std::vector<int64_t> idx(static_cast<size_t>(last - first));
  std::iota(idx.begin(), idx.end(), first);
  // Only what the class maps need is read: nothing at all for cyclones alone when pass 1 found
  // every centre's mask (masks_cached_) and no data are copied beside LABELS.
  const bool read = !masks_cached_ || !pass2_roles_.empty() || !data_channels.empty();
  std::optional<io::Prefetcher> loader;
  if (read) loader.emplace(a, idx, 2, background);
  const int64_t HW = a.grid().size();
  std::string my_rivers, my_summary;
  for (const int64_t i : idx) {
    std::optional<io::Sample> s;
    if (read) {
      s = loader->next();
      if (!s || s->index != i) fail("label: step {} of {} was not loaded in order", i, path);
      ++samples_read;
    }
    Stopwatch computing;
    const auto labels = labels_of(a, s ? &*s : nullptr, i, centres);
    std::vector<float> out = writes.buffer(size_t(HW));
    for (size_t k = 0; k < out.size(); ++k) out[k] = labels.classes[k];
    int64_t count[4] = {0, 0, 0, 0}, kept = 0;
    for (uint8_t v : labels.classes) ++count[v & 3];
    for (const auto& o : labels.rivers.objects) {
      if (!o.kept) continue;
      ++kept;
      my_rivers += fmt::format("{},{},{},{:.0f},{:.0f},{:.0f},{:.3f},{:.3f},{:.1f}\n", i, iso[size_t(i)], o.stats.id,
                               o.stats.area_km2, o.stats.length_km, o.stats.width_km, o.stats.centroid_lat,
                               meta->orientation.file_longitude(o.stats.centroid_lon), o.stats.peak_value);
    }
    my_summary += fmt::format("{} {} {} {}\n", count[1], count[2], count[3], kept);
    // The channels written beside LABELS, copied out of the sample (its buffers are reused).
    auto data = std::make_shared<std::vector<std::vector<float>>>();
    for (const auto& [nm, c] : data_channels) {
      const float* plane = s->data.data() + int64_t(c) * HW;  // read: data_channels is not empty
      data->emplace_back(plane, plane + HW);
    }
    times.compute_s += computing.seconds();
    writes.post(std::move(out), [writer, data, &data_channels, time = a.info(i).time_value](const float* x) {
      const int64_t t = writer->append_time(time);
      writer->write("LABELS", t, x);
      for (size_t k = 0; k < data_channels.size(); ++k) writer->write(data_channels[k].first, t, (*data)[k].data());
    });
    if (s) loader->recycle(std::move(*s));
    ++times.steps;
#pragma omp critical(climseg_label_lanes)
    progress.advance();
  }
  // What the tables and summary need from this file, so a rerun that keeps it need not redo it.
  writes.post([writer, my_rivers, my_summary] {
    writer->set_global_attr(kRiversAttr, my_rivers);
    writer->set_global_attr(kSummaryAttr, my_summary);
    writer->close();
  });
  writes.finish();
  if (loader) {
    times.read_s += loader->load_seconds();
    times.read_wait_s += loader->wait_seconds();
  }
  times.write_s += writes.busy_seconds();
  times.write_wait_s += writes.wait_seconds();
  river_rows += my_rivers;
  summary_rows += my_summary;
  log::debug("wrote {}", path);
}

namespace {
// Runs job(lane, k) for k = 0 .. n-1 on `lanes` threads ("lanes"), each taking the next k in turn
// and running OpenMP's nested regions on its own thread alone. After a job throws no new k starts,
// and the error of the lowest failing k is rethrown: every k before it was taken before it, so it
// is the error a serial run would have met first.
template <class Job>
void run_in_lanes(size_t n, int lanes, Job&& job) {
  std::vector<std::exception_ptr> errors(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
#pragma omp parallel num_threads(lanes)
  {
    const size_t lane = size_t(omp_get_thread_num());
    omp_set_num_threads(1);  // the detectors' parallel regions run on this lane's thread alone
    for (size_t k = next++; k < n && !failed; k = next++) {
      try {
        job(lane, k);
      } catch (...) {
        errors[k] = std::current_exception();
        failed = true;
      }
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}
}  // namespace

// Pass 1 on `lanes` threads that each take whole steps, in turn, on one thread (its own archive:
// an archive loads one step at a time), as `lanes` ranks of one thread would. Within one step the
// threads shared 11 channel inflates and detectors with serial stages, so the second core idled
// (1 x 2 threads ran 1.14x faster than 1 x 1, 2 ranks 1.6x). The results are merged in step order,
// so candidates and masks are those of one lane; an error is the first failing step's.
void Labeller::candidates_in_lanes(const std::vector<Role>& roles, const std::vector<int64_t>& steps,
                                   const std::vector<double>& days, int lanes, std::vector<TcCandidate>& found,
                                   Progress& progress) {
  Stopwatch wall;
  std::vector<io::Archive> archives;
  for (int l = 0; l < lanes; ++l) archives.push_back(open_with(roles, {}, 1));
  struct Result {
    bool loaded = false;
    heuristics::CandidatesAndMasks found;
  };
  std::vector<Result> results(steps.size());
  std::vector<double> read(size_t(lanes), 0.0), compute(size_t(lanes), 0.0);
  std::vector<io::Sample> samples(static_cast<size_t>(lanes));
  run_in_lanes(steps.size(), lanes, [&](size_t lane, size_t k) {
    io::Sample& s = samples[lane];
    Stopwatch reading;
    archives[lane].load_into(steps[k], s);
    read[lane] += reading.seconds();
    if (!s.skip) {
      Stopwatch computing;
      const auto f = fields_of(archives[lane], s, roles);
      results[k].found = heuristics::step_candidates_and_masks(f.fields, config_, steps[k], days[size_t(steps[k])]);
      results[k].loaded = true;
      compute[lane] += computing.seconds();
    }
#pragma omp critical(climseg_label_lanes)
    progress.advance();
  });
  for (Result& r : results) {
    if (!r.loaded) continue;  // skipped (FillPolicy::skip)
    ++samples_read_;
    auto& c = r.found;
    for (size_t k = 0; k < c.candidates.size(); ++k)
      masks_[{c.candidates[k].step, c.candidates[k].lat, c.candidates[k].lon}] = std::move(c.masks[k]);
    found.insert(found.end(), c.candidates.begin(), c.candidates.end());
  }
  // The wall time split between reading and compute as the lanes' busy times were; busy reading
  // is the lanes' mean (as ranks' times are).
  const double w = wall.seconds(), busy_read = std::accumulate(read.begin(), read.end(), 0.0),
               busy = busy_read + std::accumulate(compute.begin(), compute.end(), 0.0);
  const double read_share = busy > 0 ? busy_read / busy : 0.0;
  times_.read_s += busy_read / lanes;
  times_.read_wait_s += w * read_share;
  times_.compute_s += w * (1 - read_share);
}

// Pass 2 on `lanes` threads that each write whole label files, in turn, on one thread (its own
// archive), as `lanes` ranks of one thread would: the writes (conversion, deflate, fsync) and,
// for rivers, each step's read and detection no longer leave the second core idle. Each file is
// the one lane's; the tables' rows are kept per file, in file order. An error is the first failing
// file's (the files of later groups that other lanes finished stay, complete, as a rerun keeps them).
void Labeller::groups_in_lanes(const std::vector<Role>& roles, const std::vector<GroupJob>& jobs,
                               const std::map<int64_t, std::vector<geo::LatLon>>& centres,
                               const std::vector<std::string>& iso, std::vector<std::string>& river_rows,
                               std::vector<std::string>& summary_rows, int lanes, Progress& progress) {
  Stopwatch wall;
  std::vector<io::Archive> archives;
  for (int l = 0; l < lanes; ++l) archives.push_back(open_with(roles, cfg_.with_data, 1));
  std::vector<StageTimes> times(static_cast<size_t>(lanes));
  std::vector<int64_t> reads(size_t(lanes), 0);
  run_in_lanes(jobs.size(), lanes, [&](size_t lane, size_t k) {
    const GroupJob& j = jobs[k];
    write_group(archives[lane], j.first, j.last, j.path, j.key, centres, iso, river_rows[k], summary_rows[k], progress,
                times[lane], reads[lane], false);
  });
  // The wall time split between the stages as the lanes' busy times were (all inline); busy
  // times are the lanes' means (as ranks' times are).
  StageTimes busy;
  for (const StageTimes& t : times) busy += t;
  const double w = wall.seconds(), total = busy.read_s + busy.compute_s + busy.write_s;
  const double share_read = total > 0 ? busy.read_s / total : 0.0, share_write = total > 0 ? busy.write_s / total : 0.0;
  times_.read_s += busy.read_s / lanes;
  times_.write_s += busy.write_s / lanes;
  times_.read_wait_s += w * share_read;
  times_.write_wait_s += w * share_write;
  times_.compute_s += w * (1 - share_read - share_write);
  times_.steps += busy.steps;
  samples_read_ += std::accumulate(reads.begin(), reads.end(), int64_t(0));
}

heuristics::StepLabels Labeller::labels_of(const io::Archive& a, const io::Sample* s, int64_t i,
                                           const std::map<int64_t, std::vector<geo::LatLon>>& centres) const {
  auto it = centres.find(i);
  const std::vector<geo::LatLon> none;
  const std::vector<geo::LatLon>& here = it == centres.end() ? none : it->second;
  if (!masks_cached_) {
    const auto l = fields_of(a, *s, mask_roles().empty() ? std::vector<Role>{} : all_mask_roles());
    return heuristics::step_labels(l.fields, config_, here);
  }
  // Rivers and waves from the fields read; cyclone masks from pass 1.
  heuristics::DetectConfig rest = config_;
  rest.cyclones = false;
  heuristics::StepLabels labels;
  if (rest.rivers || rest.waves) {
    std::vector<Role> roles = pass2_roles_;
    roles.insert(roles.end(), {Role::q3d, Role::u3d, Role::v3d});
    const auto l = fields_of(a, *s, roles);
    labels = heuristics::step_labels(l.fields, rest, {});
  }
  const size_t n = size_t(a.grid().size());
  if (config_.cyclones) {
    labels.cyclone.assign(n, 0);
    for (const geo::LatLon& c : here) heuristics::set_runs(masks_.at({i, c.lat, c.lon}), labels.cyclone);
  }
  labels.classes = heuristics::merge_classes(n, labels.cyclone, labels.river, labels.waves);
  return labels;
}

LabelReport Labeller::run() {
  Stopwatch clock;
  if (cfg_.inputs.empty()) fail_usage("--in is required (label config: 'in')");
  if (cfg_.out.empty()) fail_usage("--out is required (label config: 'out')");
  cfg_.validate();
  make_output_folder(cfg_.out);
  if (io::ColumnArchive::is_columns(cfg_.inputs)) return label_column_archive(cfg_, comm_, progress_);
  LabelReport report;

  // Which variables play which role.
  // The probe reads the files' metadata; by default its samples hold every field, which fails
  // when a name is in several files of a time step (u in geocat_Ustorm and geocat_U500storm): a
  // variable named with --var is enough to lay out the samples.
  io::ArchiveOptions probe_options;
  probe_options.units_override = cfg_.units;
  for (const auto& [role, spec] : cfg_.vars)
    if (!spec.empty() && !is_3d(role) && probe_options.channels.empty())
      probe_options.channels.push_back(io::ChannelSpec::parse(spec));
  io::Archive probe = io::Archive::open(cfg_.inputs, probe_options);
  roles_ = resolve_roles(probe.files(), StepsLabeller::wanted_roles(cfg_), cfg_.vars);
  check_roles();
  const int64_t S = probe.size();
  {
    // Inputs are never overwritten: refuse before any work if an output name is an input.
    std::set<std::string> names;
    for (int64_t i = 0; i < S; ++i) {
      if (i > 0 && probe.info(i).group == probe.info(i - 1).group) continue;
      const fs::path out = output_name(probe.info(i).file, names);
      std::error_code ec;
      for (const auto& f : probe.files())
        if (fs::exists(out, ec) && fs::equivalent(out, f.path, ec))
          fail_usage("{}: an input would be overwritten by an output; choose another --out", out.string());
    }
  }
  log::info("label: {} samples on a {} grid, detectors {}, {} rank(s)", S, probe.grid().shape_str(),
            cfg_.detector_text(), comm_.size());
  for (const auto& [role, spec] : roles_) log::debug("role {} = {}", role_name(role), spec);
  thresholds();
  load_threshold_field(cfg_.ivt_threshold_field, probe.grid(), ivt_threshold_field_, "--ivt-threshold-field");
  load_threshold_field(cfg_.waves_threshold_field, probe.grid(), waves_threshold_field_, "--waves-threshold-field");
  if (!ivt_threshold_field_.empty()) config_.ivt.threshold_field = ivt_threshold_field_;
  if (!waves_threshold_field_.empty()) config_.wave.threshold_field = waves_threshold_field_;
  const std::vector<double> days = sample_days(probe, cfg_.step_hours);
  std::vector<std::string> iso(static_cast<size_t>(S));
  for (int64_t i = 0; i < S; ++i) iso[size_t(i)] = sample_iso(probe, i);

  // What determines every output besides its own inputs and cyclone centres (rerun keys): the
  // configuration but in/out/overwrite, the roles and the thresholds as resolved.
  Json key_config = cfg_.key_json();
  key_config["roles"] = roles_json(roles_);
  key_config["ivt_threshold_resolved"] = config_.ivt.threshold;
  key_config["waves_threshold_resolved"] = config_.wave.threshold_m;
  std::vector<std::string> key_files;  // files besides the archive's that set thresholds
  for (const std::string& f : {cfg_.stats, cfg_.ivt_threshold_field.substr(0, cfg_.ivt_threshold_field.rfind(':')),
                               cfg_.waves_threshold_field.substr(0, cfg_.waves_threshold_field.rfind(':'))})
    if (!f.empty()) key_files.push_back(f);

  std::vector<int64_t> group_first;  // first sample of each time-step group
  for (int64_t i = 0; i < S; ++i)
    if (i == 0 || probe.info(i).group != probe.info(i - 1).group) group_first.push_back(i);
  group_first.push_back(S);
  const int64_t G = int64_t(group_first.size()) - 1;

  // Pass 1: cyclone candidates on every step, gathered and stitched into tracks.
  std::string tracks_csv;
  std::vector<heuristics::TcTrack> tracks;
  std::map<int64_t, std::vector<geo::LatLon>> centres;
  int64_t candidates = 0;
  if (config_.cyclones) {
    // The candidates' fields and those of their masks (tmq, prect; the wind is a candidate role):
    // each step is read once for its cyclones.
    std::vector<Role> roles = to_roles(heuristics::candidate_roles());
    roles.insert(roles.end(), {Role::tmq, Role::prect});
    // The steps of the groups this rank labels in pass 2 (so their masks are here), when there are
    // enough groups for every rank; else an even split of the steps.
    io::Block block = io::block_partition(S, comm_.rank(), comm_.size());
    if (G >= comm_.size()) {
      const io::Block gb = io::block_partition(G, comm_.rank(), comm_.size());
      block.begin = group_first[size_t(gb.begin)];
      block.end = group_first[size_t(gb.end)];
    }
    std::vector<int64_t> mine(static_cast<size_t>(block.size()));
    std::iota(mine.begin(), mine.end(), block.begin);
    std::vector<TcCandidate> found;
    Progress progress("label: cyclone candidates", block.size(), progress_);
    const int lanes = int(std::min<int64_t>(num_threads(), block.size()));
    if (lanes > 1) {
      candidates_in_lanes(roles, mine, days, lanes, found, progress);
    } else {
      io::Archive a = open_with(roles, {});
      io::Prefetcher loader(a, mine, 2, io::background_io(cfg_.overlap));
      while (auto s = loader.next()) {
        ScopedSeconds computing(times_.compute_s);
        ++samples_read_;
        auto f = fields_of(a, *s, roles);
        auto c = heuristics::step_candidates_and_masks(f.fields, config_, s->index, days[size_t(s->index)]);
        for (size_t k = 0; k < c.candidates.size(); ++k)
          masks_[{s->index, c.candidates[k].lat, c.candidates[k].lon}] = std::move(c.masks[k]);
        found.insert(found.end(), c.candidates.begin(), c.candidates.end());
        loader.recycle(std::move(*s));
        progress.advance();
      }
      times_.read_s += loader.load_seconds();
      times_.read_wait_s += loader.wait_seconds();
    }
    progress.finish();
    std::vector<TcCandidate> all;
    for (const auto& bytes : comm_.allgather(heuristics::encode_candidates(found))) {
      auto part = heuristics::decode_candidates(bytes);
      all.insert(all.end(), part.begin(), part.end());
    }
    candidates = int64_t(all.size());
    Stopwatch stitching;
    tracks = heuristics::stitch_tracks(std::move(all), days, config_.tracks);
    times_.compute_s += stitching.seconds();
    for (const auto& t : tracks)
      for (const auto& p : t.points) centres[p.step].push_back({p.lat, p.lon});
    // Only track points are drawn: the other candidates' masks go now, not at the end of the run.
    std::set<std::tuple<int64_t, double, double>> points;
    for (const auto& [i, cs] : centres)
      for (const auto& c : cs) points.insert({i, c.lat, c.lon});
    std::erase_if(masks_, [&](const auto& m) { return !points.contains(m.first); });
    if (comm_.is_root()) {
      std::ostringstream csv;
      heuristics::write_tracks_csv(csv, tracks, iso, probe.files().front().orientation);
      tracks_csv = csv.str();  // written with the other tables when every label file is done
    }
    log::info("label: {} cyclone candidates, {} tracks", candidates, tracks.size());
  }

  // Pass 2: class maps, one output file per input time-step group, groups split over ranks.
  const io::Block gb = io::block_partition(G, comm_.rank(), comm_.size());
  // Whether pass 1 found, on this rank, the mask of every centre of the steps it labels (so on all
  // ranks: then pass 2 reads only what rivers, waves and --with-data need).
  int64_t uncached = 0;
  if (config_.cyclones)
    for (int64_t i = group_first[size_t(gb.begin)]; i < group_first[size_t(gb.end)]; ++i)
      if (auto it = centres.find(i); it != centres.end())
        for (const auto& c : it->second) uncached += masks_.count({i, c.lat, c.lon}) == 0;
  masks_cached_ = comm_.sum(uncached) == 0;
  std::vector<Role> mask = mask_roles();
  if (config_.rivers && config_.ar_method != ArMethod::tmq && !has(Role::ivt))
    mask.insert(mask.end(), {Role::q3d, Role::u3d, Role::v3d});
  if (masks_cached_) {
    heuristics::DetectConfig rest = config_;
    rest.cyclones = false;
    pass2_roles_ = to_roles(heuristics::mask_roles(rest));
    if (config_.rivers && config_.ar_method != ArMethod::tmq && !has(Role::ivt))
      pass2_roles_.insert(pass2_roles_.end(), {Role::q3d, Role::u3d, Role::v3d});
    // Nothing to read but --with-data: the archive is still opened for its metadata.
    if (!pass2_roles_.empty() || !cfg_.with_data.empty()) mask = pass2_roles_;
  }
  io::Archive a = open_with(mask, cfg_.with_data);
  std::string river_rows, summary_rows;
  // Each group's table rows, in group order, whether its file was kept or written now.
  std::vector<std::string> group_rivers(static_cast<size_t>(G)), group_summary(static_cast<size_t>(G));
  std::vector<GroupJob> jobs;
  std::vector<int64_t> job_group;
  const int64_t my_steps = group_first[size_t(gb.end)] - group_first[size_t(gb.begin)];
  Progress progress("label: masks", my_steps, progress_);
  std::set<std::string> names_used;
  int64_t skipped = 0;
  // The tables and summary of an earlier run go first: they describe the label files beside them,
  // which may change now; this run's appear once every label file is done (a failure leaves none).
  if (comm_.is_root())
    for (const char* table : {"tc_tracks.csv", "rivers.csv", "label_summary.json"}) {
      std::error_code ec;
      fs::remove(fs::path(cfg_.out) / table, ec);
    }
  comm_.barrier();
  for (int64_t g = 0; g < G; ++g) {
    // Every rank computes every output name, so names are the same whichever rank writes.
    const std::string path = output_name(a.info(group_first[size_t(g)]).file, names_used);
    if (g < gb.begin || g >= gb.end) continue;
    const int64_t first = group_first[size_t(g)], last = group_first[size_t(g) + 1];
    // Its key: the options, the group's files, the cyclone centres of its steps (tracks span the
    // whole archive) and climseg's version.
    Json config = key_config;
    std::string centre_text;
    for (int64_t i = first; i < last; ++i)
      if (auto it = centres.find(i); it != centres.end())
        for (const auto& c : it->second) centre_text += fmt::format("{} {:.17g} {:.17g}\n", i - first, c.lat, c.lon);
    config["cyclone_centres_sha256"] = io::sha256_hex(centre_text.data(), centre_text.size());
    std::vector<std::string> files = a.group_files(a.info(first).group);
    files.insert(files.end(), key_files.begin(), key_files.end());
    const io::RunKey key = io::make_run_key("label", std::move(config), files);
    if (io::keep_existing(path, key, cfg_.rerun) &&
        read_back(path, last - first, group_rivers[size_t(g)], group_summary[size_t(g)])) {
      ++skipped;
      progress.advance(last - first, "kept " + fs::path(path).filename().string());
      continue;
    }
    jobs.push_back({first, last, path, key});
    job_group.push_back(g);
  }
  const int lanes = int(std::min<int64_t>(num_threads(), int64_t(jobs.size())));
  std::vector<std::string> job_rivers(jobs.size()), job_summary(jobs.size());
  if (lanes > 1) {
    groups_in_lanes(mask, jobs, centres, iso, job_rivers, job_summary, lanes, progress);
  } else {
    for (size_t k = 0; k < jobs.size(); ++k)
      write_group(a, jobs[k].first, jobs[k].last, jobs[k].path, jobs[k].key, centres, iso, job_rivers[k],
                  job_summary[k], progress, times_, samples_read_, io::background_io(cfg_.overlap));
  }
  for (size_t k = 0; k < jobs.size(); ++k) {
    group_rivers[size_t(job_group[k])] = std::move(job_rivers[k]);
    group_summary[size_t(job_group[k])] = std::move(job_summary[k]);
  }
  for (int64_t g = 0; g < G; ++g) {
    river_rows += group_rivers[size_t(g)];
    summary_rows += group_summary[size_t(g)];
  }
  progress.finish();
  skipped = comm_.sum(skipped);
  if (skipped > 0)
    log::info("label: kept {} label file(s) made from the same inputs and options (--overwrite redoes them)", skipped);

  // The report on every rank; tables and summary from the root.
  const auto rivers = comm_.allgather(river_rows);
  const auto sums = comm_.allgather(summary_rows);
  report.samples = S;
  report.grid = a.grid().shape_str();
  report.roles = roles_;
  report.ar_method = config_.ar_method;
  report.ivt_threshold = config_.ivt.threshold;
  report.waves_threshold = config_.wave.threshold_m;
  report.cyclone_candidates = candidates;
  report.cyclone_tracks = int64_t(tracks.size());
  report.kept_files = skipped;
  report.samples_read = samples_read_;
  report.run_options = key_config;
  add_class_counts(report, sums);
  report.seconds = clock.seconds();
  if (comm_.is_root()) {
    // The tables are written here, on this thread.
    Stopwatch tables;
    if (config_.cyclones) write_file_atomically(fs::path(cfg_.out) / "tc_tracks.csv", tracks_csv);
    std::string csv = "step,time,river,area_km2,length_km,width_km,centroid_lat,centroid_lon,peak\n";
    for (const auto& r : rivers) csv += r;
    if (config_.rivers) write_file_atomically(fs::path(cfg_.out) / "rivers.csv", csv);
    write_file_atomically(fs::path(cfg_.out) / "label_summary.json", report.to_json(cfg_).dump(2) + "\n");
    const double seconds = tables.seconds();
    times_.write_s += seconds;
    times_.write_wait_s += seconds;
  }
  report.times = times_;
  report.times.setup_s = std::max(0.0, clock.seconds() - times_.read_wait_s - times_.compute_s - times_.write_wait_s);
  return report;
}

}  // namespace

double label_threshold_value(const std::string& text, const std::string& stats_path, const std::string& channel,
                             const char* option) {
  if (text.empty()) fail_usage("{}: empty value", option);
  if (text[0] == 'p' || text[0] == 'P') {
    if (stats_path.empty()) fail_usage("{} {}: a percentile needs --stats FILE (from climseg stats)", option, text);
    double p = 0;
    try {
      p = std::stod(text.substr(1));
    } catch (...) {
      fail_usage("{} {}: expected pNUMBER, e.g. p95", option, text);
    }
    const io::ChannelStats st = io::load_stats(stats_path);
    for (const auto& c : st.channels) {
      if (c.name != channel) continue;
      for (const auto& [pct, value] : c.percentiles)
        if (std::abs(pct - p) < 1e-9) return value;
      fail_usage("{}: {} has no {}th percentile of {} (run climseg stats --percentiles {})", option, stats_path, p,
                 channel, p);
    }
    fail_usage("{}: {} has no channel {}", option, stats_path, channel);
  }
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    fail_usage("{} {}: expected a number or pPERCENTILE", option, text);
  }
}

Json LabelReport::to_json(const LabelConfig& cfg) const {
  const auto& d = cfg.detect;
  Json js;
  js["samples"] = samples;
  js["options"] = run_options;  // what made the label files beside it (each carries it in climseg_run_key)
  js["grid"] = grid;
  js["detectors"] = cfg.detector_text();
  js["roles"] = roles_json(roles);
  js["cyclone_candidates"] = cyclone_candidates;
  js["cyclone_tracks"] = cyclone_tracks;
  // The thresholds as resolved (a pNN percentile as its value from the stats file).
  Json th;
  if (d.rivers) {
    th["ar_method"] = ar_method == ArMethod::tmq ? "tmq" : "ivt";
    if (ar_method == ArMethod::tmq) {
      th["tmq_kg_m-2"] = d.tmq.threshold;
    } else if (!cfg.ivt_threshold_field.empty()) {
      th["ivt_field"] = cfg.ivt_threshold_field;
    } else {
      th["ivt_kg_m-1_s-1"] = ivt_threshold;
      th["ivt_given"] = cfg.ivt_threshold;
    }
  }
  if (d.waves) {
    if (!cfg.waves_threshold_field.empty()) {
      th["waves_field"] = cfg.waves_threshold_field;
    } else {
      th["waves_hs_m"] = waves_threshold;
      th["waves_given"] = cfg.waves_threshold;
    }
  }
  if (d.cyclones) {
    th["tc_min_vorticity_s-1"] = d.tc.min_vorticity;
    th["tc_pressure_delta_pa"] = d.tc.min_pressure_delta_pa;
    th["tracks_require_warm_core"] = d.tracks.require_warm_core;
    th["tracks_require_thickness"] = d.tracks.require_thickness;
    th["tracks_max_gap_steps"] = d.tracks.max_gap_steps;
  }
  js["thresholds"] = th;
  js["river_objects"] = river_objects;
  for (int k = 1; k <= 3; ++k)
    js["classes"][heuristics::class_names()[size_t(k)]] = {{"cells", classes[size_t(k)].cells},
                                                           {"steps_with_any", classes[size_t(k)].steps_with_any}};
  js["seconds"] = seconds;
  // The whole configuration but the rerun policy (overwrite, no_overwrite): how this run treated
  // label files that existed is not a parameter of its outputs, and a rerun from the summary takes
  // the default (keep what matches) unless told otherwise.
  js["config"] = cfg.to_json();
  js["config"].erase("overwrite");
  js["config"].erase("no_overwrite");
  return js;
}

void add_class_counts(LabelReport& report, const std::vector<std::string>& gathered) {
  for (const auto& block_text : gathered) {
    std::istringstream in(block_text);
    int64_t c[4] = {0, 0, 0, 0};
    while (in >> c[1] >> c[2] >> c[3] >> c[0]) {
      for (int k = 1; k <= 3; ++k) {
        report.classes[size_t(k)].cells += c[k];
        report.classes[size_t(k)].steps_with_any += c[k] > 0;
      }
      report.river_objects += c[0];
    }
  }
}

LabelReport label_archive(const LabelConfig& cfg, const Comm& comm, bool show_progress) {
  return Labeller(cfg, comm, show_progress).run();
}

std::vector<Role> StepsLabeller::wanted_roles(const LabelConfig& cfg) {
  std::vector<Role> wanted;
  if (cfg.detect.cyclones) wanted = to_roles(heuristics::candidate_roles());
  for (const Role r : to_roles(heuristics::mask_roles(cfg.detect))) wanted.push_back(r);
  if (cfg.detect.rivers && cfg.detect.ar_method != ArMethod::tmq)
    wanted.insert(wanted.end(), {Role::q3d, Role::u3d, Role::v3d});
  return wanted;
}

StepsLabeller::StepsLabeller(const geo::Grid& grid, const LabelConfig& cfg, const RoleMap& vars,
                             const std::string& where)
    : grid_(grid), config_(cfg.detect) {
  cfg.validate();
  check_detector_roles(
      config_, [&](Role r) { return vars.count(r) > 0; }, where);
  if (config_.rivers && config_.ar_method == ArMethod::ivt && !vars.count(Role::ivt))
    fail_usage(
        "{}: IVT is not integrated from 3-D q, u and v in memory: give an ivt variable (--var ivt=VARIABLE) or "
        "--ar-method tmq",
        where);
  config_.ivt.threshold =
      label_threshold_value(cfg.ivt_threshold, cfg.stats,
                            vars.count(Role::ivt) ? channel_name_of(vars.at(Role::ivt)) : "IVT", "--ivt-threshold");
  config_.wave.threshold_m =
      label_threshold_value(cfg.waves_threshold, cfg.stats,
                            vars.count(Role::hs) ? channel_name_of(vars.at(Role::hs)) : "hs", "--waves-threshold");
  config_.ivt.validate();
  config_.tmq.validate();
  config_.wave.validate();
  load_threshold_field(cfg.ivt_threshold_field, grid, ivt_threshold_field_, "--ivt-threshold-field");
  load_threshold_field(cfg.waves_threshold_field, grid, waves_threshold_field_, "--waves-threshold-field");
  if (!ivt_threshold_field_.empty()) config_.ivt.threshold_field = ivt_threshold_field_;
  if (!waves_threshold_field_.empty()) config_.wave.threshold_field = waves_threshold_field_;
}

heuristics::StepFields StepsLabeller::fields(const StepPlanes& s, int64_t step) const {
  heuristics::StepFields f;
  f.grid = &grid_;
  for (const auto& [from, to] : {std::pair{&s.planes, &f.planes}, std::pair{&s.valid, &f.valid}})
    for (const auto& [r, plane] : *from) {
      if (plane.size() != size_t(grid_.size()))
        fail_usage("step {}: role {} has {} values, the grid {}", step, role_name(r), plane.size(), grid_.size());
      (*to)[role_name(r)] = plane;
    }
  return f;
}

void StepsLabeller::add_candidates(std::span<const StepPlanes> steps, int64_t first, std::span<const double> days) {
  if (days.size() != steps.size()) fail_usage("add_candidates: {} steps but {} times", steps.size(), days.size());
  if (stitched_) fail_usage("add_candidates after stitch");
  if (!config_.cyclones) return;
  for (size_t i = 0; i < steps.size(); ++i) {
    auto c = heuristics::step_candidates(fields(steps[i], first + int64_t(i)), config_, first + int64_t(i), days[i]);
    candidates_.insert(candidates_.end(), c.begin(), c.end());
  }
}

const std::vector<heuristics::TcTrack>& StepsLabeller::stitch(const std::vector<double>& days) {
  if (!stitched_ && config_.cyclones) {
    tracks_ = heuristics::stitch_tracks(candidates_, days, config_.tracks);
    for (const auto& t : tracks_)
      for (const auto& p : t.points) centres_[p.step].push_back({p.lat, p.lon});
  }
  stitched_ = true;
  return tracks_;
}

void StepsLabeller::label(std::span<const StepPlanes> steps, int64_t first, StepsLabels& out) const {
  if (!stitched_) fail_usage("label before stitch");
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t step = first + int64_t(i);
    auto it = centres_.find(step);
    auto labels = heuristics::step_labels(fields(steps[i], step), config_,
                                          it == centres_.end() ? std::vector<geo::LatLon>{} : it->second);
    out.classes.push_back(std::move(labels.classes));
    std::vector<heuristics::ArObject> kept;
    for (auto& o : labels.rivers.objects)
      if (o.kept) kept.push_back(o);
    out.rivers.push_back(std::move(kept));
  }
}

StepsLabels label_steps(const geo::Grid& grid, const std::vector<std::map<Role, std::span<const float>>>& steps,
                        const std::vector<double>& days, const LabelConfig& cfg) {
  if (days.size() != steps.size()) fail_usage("label_steps: {} steps but {} times", steps.size(), days.size());
  RoleMap vars;
  if (!steps.empty())
    for (const auto& [r, plane] : steps[0]) vars[r] = role_name(r);
  std::vector<StepPlanes> planes(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) planes[i].planes = steps[i];
  StepsLabeller l(grid, cfg, vars, "label_steps");
  l.add_candidates(planes, 0, days);
  StepsLabels out;
  out.tracks = l.stitch(days);
  out.cyclone_candidates = l.candidates();
  l.label(planes, 0, out);
  return out;
}

}  // namespace climseg::pipelines
