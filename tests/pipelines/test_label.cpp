// label_archive in-process on a small synthetic archive: its summary, given back as the
// configuration, redoes the run bit for bit; label_steps (the arrays-in-memory entry point) gives
// the class maps and tracks that the files hold.
#include <gtest/gtest.h>
#include <netcdf.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/mpi.hpp"
#include "core/threads.hpp"
#include "models/pipelines/label.hpp"
#include "models/synth/archive.hpp"
#include "readers/archive.hpp"
#include "readers/quantities.hpp"
#include "test_support.hpp"

namespace climseg::pipelines {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Every variable's values (as bytes) and every attribute of a NetCDF file, except the global
// `history` (it holds the time of writing), as text to compare.
std::string netcdf_content(const fs::path& path) {
  int nc = -1;
  EXPECT_EQ(nc_open(path.c_str(), NC_NOWRITE, &nc), NC_NOERR) << path;
  std::ostringstream out;
  int nvars = 0, ngatts = 0;
  nc_inq_nvars(nc, &nvars);
  nc_inq_natts(nc, &ngatts);
  auto atts = [&](int var, int n) {
    for (int a = 0; a < n; ++a) {
      char name[NC_MAX_NAME + 1];
      nc_inq_attname(nc, var, a, name);
      if (var == NC_GLOBAL && std::string(name) == "history") continue;
      nc_type t{};
      size_t len = 0;
      nc_inq_att(nc, var, name, &t, &len);
      size_t size = 0;
      nc_inq_type(nc, t, nullptr, &size);
      std::string bytes(len * size, '\0');
      nc_get_att(nc, var, name, bytes.data());
      out << var << " " << name << " " << t << " " << bytes << "\n";
    }
  };
  atts(NC_GLOBAL, ngatts);
  for (int v = 0; v < nvars; ++v) {
    char name[NC_MAX_NAME + 1];
    nc_type t{};
    int ndims = 0, dims[NC_MAX_VAR_DIMS], natts = 0;
    nc_inq_var(nc, v, name, &t, &ndims, dims, &natts);
    size_t n = 1, size = 0;
    for (int d = 0; d < ndims; ++d) {
      size_t len = 0;
      nc_inq_dimlen(nc, dims[d], &len);
      n *= len;
    }
    nc_inq_type(nc, t, nullptr, &size);
    std::string bytes(n * size, '\0');
    nc_get_var(nc, v, bytes.data());
    out << "var " << name << " " << t << " " << n << " " << bytes << "\n";
    atts(v, natts);
  }
  nc_close(nc);
  return out.str();
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

struct Archive {
  test::TempDir dir;
  std::vector<std::string> inputs;
  Archive() {
    synth::SynthConfig sc;
    sc.height = 48;
    sc.width = 96;
    sc.steps = 6;
    sc.steps_per_file = 3;
    sc.hours = 6;
    sc.seed = 5;
    sc.cyclones = 6;
    sc.waves = true;
    const auto files = synth::write_archive(sc, dir.path() / "archive", Comm::self(), false);
    inputs = files.cam;
    inputs.insert(inputs.end(), files.waves.begin(), files.waves.end());
  }
};

const Archive& archive() {
  static Archive a;
  return a;
}

LabelConfig test_config(const fs::path& out) {
  LabelConfig c;
  c.inputs = archive().inputs;
  c.out = out.string();
  c.detectors = {Detector::tc, Detector::ar, Detector::waves};
  c.detect.cyclones = c.detect.rivers = c.detect.waves = true;
  c.with_data = "TMQ";
  c.waves_threshold = "3";
  c.detect.wave.min_area_km2 = 0;
  c.detect.tracks.max_gap_steps = 1;
  c.detect.tracks.require_warm_core = false;
  c.detect.tracks.require_thickness = false;
  c.detect.tracks.min_wind_duration_days = 0.5;
  c.detect.tracks.min_censored_wind_duration_days = 0.25;
  return c;
}

TEST(LabelArchive, TheSummaryGivenBackAsConfigRedoesTheRunBitForBit) {
  test::TempDir out;
  LabelConfig cfg = test_config(out / "first");
  cfg.overlap = io::Overlap::on;  // read ahead and write behind, whatever the cores (the default is auto)
  const LabelReport first = label_archive(cfg, Comm::world());
  EXPECT_EQ(first.samples, 6);
  EXPECT_GT(first.cyclone_tracks, 0);
  EXPECT_GT(first.river_objects, 0);
  EXPECT_GT(first.classes[3].cells, 0);
  const Json summary = Json::parse(slurp(out / "first" / "label_summary.json"));
  Json whole = cfg.to_json();
  whole.erase("overwrite");  // the rerun policy is not a parameter of the outputs
  whole.erase("no_overwrite");
  EXPECT_EQ(summary.at("config"), whole);
  EXPECT_EQ(summary.at("cyclone_tracks"), first.cyclone_tracks);

  // As `climseg label --config first/label_summary.json --out second`: the command line's key on
  // top of the summary's configuration.
  Json given = summary;
  given["out"] = (out / "second").string();
  const LabelConfig again = LabelConfig::from_json(given);
  EXPECT_EQ(again.out, (out / "second").string());
  Json same = again.to_json();
  same["out"] = cfg.out;
  EXPECT_EQ(same, cfg.to_json()) << "the configuration read back from the summary differs";
  // The first run read ahead and wrote behind; this one reads, labels and writes each step in turn
  // (--no-overlap): the same bytes.
  LabelConfig serial = again;
  serial.overlap = io::Overlap::off;
  const LabelReport second = label_archive(serial, Comm::world());
  EXPECT_NEAR(second.times.read_wait_s, second.times.read_s, 1e-9);
  EXPECT_NEAR(second.times.write_wait_s, second.times.write_s, 1e-9);
  EXPECT_EQ(second.times.steps, 6);

  // Same files; CSV tables byte for byte; label files variable by variable and attribute by
  // attribute (all but `history`: its time of writing); the summaries but for the seconds taken and
  // the output folder.
  auto same_outputs = [&](const fs::path& x, const fs::path& y) {
    ASSERT_EQ(files_in(x), files_in(y));
    int label_files = 0;
    for (const std::string& name : files_in(x)) {
      const fs::path a = x / name, b = y / name;
      if (name.ends_with(".labels.nc")) {
        ++label_files;
        EXPECT_EQ(netcdf_content(a), netcdf_content(b)) << name;
      } else if (name.ends_with(".csv")) {
        EXPECT_EQ(slurp(a), slurp(b)) << name;
      }
    }
    EXPECT_EQ(label_files, 2);
  };
  same_outputs(out / "first", out / "second");
  // On 2 threads pass 1 runs on two lanes that each take whole steps, in turn, with their own
  // archive and sample (reused from step to step: 3 steps of different data on each lane): the
  // same candidates, tracks and bytes.
  {
    struct Threads {
      int before = num_threads();
      Threads() { set_num_threads(2); }
      ~Threads() { set_num_threads(before); }
    } two;
    LabelConfig lanes = serial;
    lanes.out = (out / "third").string();
    const LabelReport third = label_archive(lanes, Comm::world());
    EXPECT_EQ(third.cyclone_candidates, first.cyclone_candidates);
    EXPECT_EQ(third.cyclone_tracks, first.cyclone_tracks);
    EXPECT_EQ(third.samples_read, second.samples_read);
  }
  same_outputs(out / "first", out / "third");
  Json s1 = summary, s2 = Json::parse(slurp(out / "second" / "label_summary.json"));
  for (Json* s : {&s1, &s2}) {
    s->erase("seconds");
    (*s)["config"].erase("out");
    (*s)["config"].erase("overlap");
  }
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(second.cyclone_candidates, first.cyclone_candidates);
}

// The archive of the roles label_archive resolved (report.roles), read in their detectors' units.
io::Archive role_archive(const LabelConfig& cfg, const LabelReport& report) {
  io::ArchiveOptions o;
  for (const auto& [r, spec] : report.roles) o.channels.push_back(role_spec(r, spec));
  return io::Archive::open(cfg.inputs, o);
}

// The class maps (LABELS) of one label file, step after step, `cells` values each, read with
// netCDF-C; empty (with a failure recorded) when the file or variable cannot be read.
std::vector<std::vector<uint8_t>> class_maps_in(const fs::path& file, int64_t cells) {
  int nc = -1, var = -1, dim[3];
  size_t steps = 0;
  if (nc_open(file.c_str(), NC_NOWRITE, &nc) != NC_NOERR) {
    ADD_FAILURE() << file << ": cannot open";
    return {};
  }
  std::vector<uint8_t> labels;
  if (nc_inq_varid(nc, "LABELS", &var) == NC_NOERR && nc_inq_vardimid(nc, var, dim) == NC_NOERR &&
      nc_inq_dimlen(nc, dim[0], &steps) == NC_NOERR) {
    labels.resize(steps * size_t(cells));
    if (nc_get_var_uchar(nc, var, labels.data()) != NC_NOERR) labels.clear();
  }
  nc_close(nc);
  if (labels.empty()) ADD_FAILURE() << file << ": no readable LABELS";
  std::vector<std::vector<uint8_t>> maps;
  for (size_t t = 0; t < labels.size() / size_t(cells); ++t)
    maps.emplace_back(labels.begin() + int64_t(t) * cells, labels.begin() + int64_t(t + 1) * cells);
  return maps;
}

// label_steps over every step of a, the roles' planes handed over as arrays.
StepsLabels label_in_memory(const io::Archive& a, const LabelConfig& cfg, const LabelReport& report) {
  std::vector<io::Sample> samples;
  std::vector<std::map<Role, std::span<const float>>> steps;
  for (int64_t i = 0; i < a.size(); ++i) samples.push_back(a.load(i));
  const int64_t n = a.grid().size();
  for (const io::Sample& s : samples) {
    std::map<Role, std::span<const float>> planes;
    for (const auto& [r, spec] : report.roles)
      planes[r] = {s.data.data() + int64_t(s.channel_index(channel_name_of(spec))) * n, size_t(n)};
    steps.push_back(planes);
  }
  return label_steps(a.grid(), steps, sample_days(a), cfg);
}

TEST(LabelArchive, InMemoryStepsGiveTheClassMapsOfTheFiles) {
  test::TempDir out;
  LabelConfig cfg = test_config(out / "l");
  cfg.with_data.clear();
  const LabelReport report = label_archive(cfg, Comm::world());

  // The roles label_archive resolved, read in their detectors' units, handed over as arrays.
  const io::Archive a = role_archive(cfg, report);
  const int64_t n = a.grid().size();
  const StepsLabels mem = label_in_memory(a, cfg, report);
  EXPECT_EQ(int64_t(mem.tracks.size()), report.cyclone_tracks);
  EXPECT_EQ(mem.cyclone_candidates, report.cyclone_candidates);
  ASSERT_EQ(mem.classes.size(), 6u);
  int64_t step = 0, labelled = 0;
  for (const std::string& name : files_in(out / "l")) {
    if (!name.ends_with(".labels.nc")) continue;
    const auto maps = class_maps_in(out / "l" / name, n);
    for (size_t t = 0; t < maps.size(); ++t, ++step) {
      EXPECT_EQ(maps[t], mem.classes[size_t(step)]) << name << " step " << t;
      for (uint8_t v : maps[t]) labelled += v != 0;
    }
  }
  EXPECT_EQ(step, 6);
  EXPECT_GT(labelled, 0);
}

// Cyclones alone: pass 1 reads each step once, with the fields of the masks, and finds each
// candidate's mask there; pass 2 reads nothing (the old pass 2 read every step again) and the class
// maps are those label_steps draws from the fields.
TEST(LabelArchive, CyclonesAloneReadEachStepOnce) {
  test::TempDir out;
  LabelConfig cfg = test_config(out / "l");
  cfg.detectors = {Detector::tc};
  cfg.detect.rivers = cfg.detect.waves = false;
  cfg.with_data.clear();
  const LabelReport report = label_archive(cfg, Comm::world());
  ASSERT_GT(report.cyclone_tracks, 0);
  EXPECT_EQ(report.samples_read, 6);

  const io::Archive a = role_archive(cfg, report);
  const int64_t n = a.grid().size();
  const StepsLabels mem = label_in_memory(a, cfg, report);
  int64_t step = 0, cyclone_cells = 0;
  for (const std::string& name : files_in(out / "l")) {
    if (!name.ends_with(".labels.nc")) continue;
    const auto maps = class_maps_in(out / "l" / name, n);
    ASSERT_EQ(maps.size(), 3u) << name;
    // The times too: pass 2 has no sample to take them from.
    int nc = -1, var = -1;
    double times[3] = {-1, -1, -1};
    ASSERT_EQ(nc_open((out / "l" / name).c_str(), NC_NOWRITE, &nc), NC_NOERR);
    ASSERT_EQ(nc_inq_varid(nc, "time", &var), NC_NOERR);
    ASSERT_EQ(nc_get_var_double(nc, var, times), NC_NOERR);
    nc_close(nc);
    for (size_t t = 0; t < 3; ++t) EXPECT_EQ(times[t], a.info(step + int64_t(t)).time_value) << name << " step " << t;
    for (size_t t = 0; t < 3; ++t, ++step) {
      EXPECT_EQ(maps[t], mem.classes[size_t(step)]) << name << " step " << t;
      for (uint8_t v : maps[t]) cyclone_cells += v == 1;
    }
  }
  EXPECT_EQ(step, 6);
  EXPECT_GT(cyclone_cells, 0);

  // With rivers, pass 2 reads every step again, for the river field only.
  cfg.detectors = {Detector::tc, Detector::ar};
  cfg.detect.rivers = true;
  cfg.out = (out / "r").string();
  EXPECT_EQ(label_archive(cfg, Comm::world()).samples_read, 12);
}

}  // namespace
}  // namespace climseg::pipelines
