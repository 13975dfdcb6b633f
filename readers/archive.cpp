// Archives: inputs expanded, files scanned over ranks, ordered by time, grouped by time step,
// channels resolved, samples loaded.
#include "readers/archive.hpp"

#include <fmt/format.h>
#include <fnmatch.h>
#include <glob.h>
#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <set>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "readers/direct_read.hpp"
#include "readers/limits.hpp"
#include "readers/orientation.hpp"
#include "readers/partition.hpp"

namespace climseg::io {
namespace fs = std::filesystem;
using nlohmann::json;

// ------------------------------------------------------------------------------------------------
// Channel specifications

std::string ChannelSpec::flat_level_var() const {
  if (level.empty() || level[0] == '#') return {};
  std::string digits;
  for (char c : level)
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') digits += c;
  return digits.empty() ? std::string() : var + digits;
}

ChannelSpec ChannelSpec::parse(const std::string& text) {
  ChannelSpec s;
  s.text = text;
  std::string rest = text;
  auto bad = [&](const char* why) -> ChannelSpec {
    fail_usage("channel '{}': {} (expected [NAME=]VAR[@LEVEL][[FILE]], e.g. TMQ, U@850, u500=u[U500])", text, why);
  };
  if (rest.empty()) return bad("empty");
  if (auto eq = rest.find('='); eq != std::string::npos) {
    s.name = rest.substr(0, eq);
    rest = rest.substr(eq + 1);
    if (s.name.empty()) return bad("empty name before '='");
  }
  if (!rest.empty() && rest.back() == ']') {
    auto open = rest.rfind('[');
    if (open == std::string::npos) return bad("']' without '['");
    s.file = rest.substr(open + 1, rest.size() - open - 2);
    rest = rest.substr(0, open);
    if (s.file.empty()) return bad("empty file selector '[]'");
  }
  if (auto at = rest.find('@'); at != std::string::npos) {
    s.level = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (s.level.empty()) return bad("empty level after '@'");
  }
  s.var = rest;
  if (s.var.empty()) return bad("no variable");
  for (char c : s.var + s.name)
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '[' || c == ']' || c == '@' || c == '=')
      return bad("unexpected character in the name");
  if (s.name.empty()) {
    // U@850 → U850; U@850hPa → U850; U@85000Pa → U85000Pa; U@#3 → U3
    std::string lv = s.level;
    for (const char* suffix : {"hPa", "hpa", "mb", "mbar"}) {
      std::string sf(suffix);
      if (lv.size() > sf.size() && lv.compare(lv.size() - sf.size(), sf.size(), sf) == 0) {
        lv = lv.substr(0, lv.size() - sf.size());
        break;
      }
    }
    std::string clean;
    for (char c : lv)
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.') clean += c;
    s.name = s.var + clean;
  }
  return s;
}

std::vector<ChannelSpec> parse_channels(const std::string& list) {
  std::vector<ChannelSpec> out;
  size_t start = 0;
  while (true) {
    // Commas inside [...] belong to the file selector.
    size_t pos = start;
    int depth = 0;
    while (pos < list.size() && (list[pos] != ',' || depth > 0)) {
      if (list[pos] == '[') ++depth;
      if (list[pos] == ']') --depth;
      ++pos;
    }
    std::string item = list.substr(start, pos - start);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.pop_back();
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.erase(item.begin());
    if (item.empty()) fail_usage("channel list '{}' has an empty item", list);
    out.push_back(ChannelSpec::parse(item));
    if (pos >= list.size()) break;
    start = pos + 1;
  }
  std::set<std::string> names;
  for (const ChannelSpec& s : out)
    if (!names.insert(s.name).second) fail_usage("channel list '{}' names channel '{}' twice", list, s.name);
  return out;
}

std::map<std::string, std::string> parse_units_overrides(const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      fail_usage("--units {}: expected VARIABLE=UNITS (e.g. --units 'PSL=hPa')", item);
    const std::string units = item.substr(eq + 1);
    if (!units_understood(units)) fail_usage("--units {}: UDUNITS-2 does not understand '{}'", item, units);
    out[item.substr(0, eq)] = units;
  }
  return out;
}

FillPolicy parse_fill_policy(const std::string& name) {
  if (name == "mask") return FillPolicy::mask;
  if (name == "skip") return FillPolicy::skip;
  if (name == "error") return FillPolicy::error;
  fail_usage("fill policy '{}' is not one of mask, skip, error", name);
}

// ------------------------------------------------------------------------------------------------
// Inputs

namespace {

bool data_extension(const fs::path& p) {
  std::string e = p.extension().string();
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e == ".nc" || e == ".nc4" || e == ".cdf" || e == ".h5" || e == ".hdf5" || e == ".he5" || e == ".netcdf" ||
         e == ".hdf";
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  if (inputs.empty()) fail_usage("no input files given");
  for (const std::string& in : inputs) {
    if (in.empty()) fail_usage("an input path is empty");
    if (in[0] == '@') {
      fs::path list = in.substr(1);
      std::ifstream f(list);
      if (!f) fail("{}: cannot read the list of files", list.string());
      std::string line;
      int n = 0;
      while (std::getline(f, line)) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
        size_t b = 0;
        while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
        line = line.substr(b);
        if (line.empty() || line[0] == '#') continue;
        fs::path p = line;
        if (p.is_relative() && !fs::exists(p) && fs::exists(list.parent_path() / p)) p = list.parent_path() / p;
        out.push_back(p.string());
        ++n;
      }
      if (n == 0) fail("{}: the list of files is empty", list.string());
    } else if (has_glob_chars(in) && !fs::exists(in)) {
      glob_t g{};
      int rc = ::glob(in.c_str(), 0, nullptr, &g);
      std::vector<std::string> found;
      if (rc == 0)
        for (size_t k = 0; k < g.gl_pathc; ++k) found.emplace_back(g.gl_pathv[k]);
      globfree(&g);
      if (found.empty()) fail("{}: no files match", in);
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::is_directory(in)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(in))
        if (e.is_regular_file() && data_extension(e.path()) && e.path().filename().string()[0] != '.')
          found.push_back(e.path().string());
      if (found.empty()) fail("{}: the directory has no NetCDF/HDF5 files (*.nc, *.nc4, *.cdf, *.h5, *.hdf5)", in);
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(in);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ------------------------------------------------------------------------------------------------
// The archive

namespace {

struct Resolved {
  int file = -1;  // index into Impl::files
  int var = -1;   // index into files[file].vars
  int64_t level = 0;
  std::string spec, how;   // the spec that found it and how ("by name", ...)
  UnitConversion conv;     // file units -> the spec's units
  std::string file_units;  // as in the file (or ArchiveOptions::units_override)
};

struct Group {
  std::vector<int> files;  // indices into Impl::files
  int64_t steps = 1;
  int64_t first_sample = 0;
  std::vector<Resolved> channels;
  Resolved labels;  // file < 0: none
};

std::string grid_summary(const FileMeta& m) {
  const geo::Grid& g = m.grid;
  return fmt::format("{} (lat {:g}..{:g}, lon {:g}..{:g}{})", g.shape_str(), g.lat.front(), g.lat.back(), g.lon.front(),
                     g.lon.back(), g.periodic ? ", global" : ", regional");
}

std::string grid_difference(const FileMeta& a, const FileMeta& b) {
  if (a.grid.height() != b.grid.height() || a.grid.width() != b.grid.width() || a.grid.periodic != b.grid.periodic)
    return fmt::format("{} but {} has {}", grid_summary(b), a.path, grid_summary(a));
  for (size_t i = 0; i < a.grid.lat.size(); ++i)
    if (std::abs(a.grid.lat[i] - b.grid.lat[i]) > 1e-4)
      return fmt::format("latitude {} is {:g} but {:g} in {}", i, b.grid.lat[i], a.grid.lat[i], a.path);
  for (size_t j = 0; j < a.grid.lon.size(); ++j)
    if (std::abs(a.grid.lon[j] - b.grid.lon[j]) > 1e-4)
      return fmt::format("longitude {} is {:g} but {:g} in {}", j, b.grid.lon[j], a.grid.lon[j], a.path);
  return {};
}

bool matches_file(const std::string& path, const std::string& selector) {
  if (selector.empty()) return true;
  std::string base = fs::path(path).filename().string();
  if (has_glob_chars(selector)) return ::fnmatch(selector.c_str(), base.c_str(), 0) == 0;
  return base.find(selector) != std::string::npos;
}

std::string basenames(const std::vector<FileMeta>& files, const std::vector<int>& idx) {
  std::vector<std::string> names;
  for (int i : idx) names.push_back(fs::path(files[static_cast<size_t>(i)].path).filename().string());
  return fmt::format("{}", fmt::join(names, ", "));
}

// A channel that a spec with fallbacks (standard names, aliases) finds nowhere: gathered over all
// channels into one message by Archive::open.
class MissingChannel : public Error {
 public:
  using Error::Error;
};

// Scans this rank's block of files; returns JSON [{meta}|{error}] in file order.
std::string scan_block(const std::vector<std::string>& paths, Block block, int64_t& scanned) {
  json out = json::array();
  Progress progress("scanning files", block.size(), block.size() >= 64);
  const json* previous = nullptr;
  json last_grid;
  for (int64_t k = block.begin; k < block.end; ++k) {
    json item;
    try {
      FileMeta m = scan_file(paths[static_cast<size_t>(k)]);
      json j = m;
      // Archives repeat one grid in every file: send it once per rank.
      json grid = {j["lat"], j["lon"], j["glat"], j["glon"]};
      if (previous != nullptr && grid == last_grid) {
        j.erase("lat");
        j.erase("lon");
        j.erase("glat");
        j.erase("glon");
        j["same_grid"] = true;
      } else {
        last_grid = std::move(grid);
      }
      item["meta"] = std::move(j);
    } catch (const Error& e) {
      item["error"] = e.what();
    }
    out.push_back(std::move(item));
    previous = &out.back();
    ++scanned;
    progress.advance();
  }
  progress.finish();
  // Text from files is made UTF-8 when read (to_utf8); `replace` keeps a stray byte from ever
  // turning the gather into an exception.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

struct Archive::Impl {
  ArchiveOptions options;
  std::vector<FileMeta> files;
  std::vector<Group> groups;
  geo::Grid grid;
  std::vector<std::string> names, units;
  std::vector<ChannelSpec> specs;
  std::vector<ChannelSource> sources;
  std::string calendar;
  bool labels = false;
  int64_t total = 0;
  int64_t scanned = 0;

  mutable std::mutex mutex;
  mutable std::list<std::pair<int, std::unique_ptr<FieldReader>>> cache;  // most recent first
  mutable std::vector<std::string> opened;
  mutable std::set<std::string> nonfinite_warned;  // "file\nvariable" already warned about NaN/Inf
  std::set<std::string> units_warned;              // variables already warned about their units

  // The units of a variable: ArchiveOptions::units_override, else its attribute.
  std::string units_of(const VarMeta& v) const {
    auto it = options.units_override.find(v.name);
    return it != options.units_override.end() ? it->second : v.units;
  }

  // The conversion of a resolved channel from its file's units to the spec's. A variable without
  // units is taken to be in the spec's units (with a warning); units UDUNITS-2 cannot convert are
  // refused, naming the fix, unless they are a known mislabel (with a warning).
  void plan_units(Resolved& r, const ChannelSpec& spec) {
    const FileMeta& m = files[static_cast<size_t>(r.file)];
    const VarMeta& v = m.vars[static_cast<size_t>(r.var)];
    r.file_units = units_of(v);
    if (spec.units.empty()) return;
    const std::string what = fmt::format("{}: variable {} (channel {})", m.path, v.name, spec.name);
    if (normalize_units(r.file_units).empty()) {
      if (units_warned.insert(v.name).second)
        log::warn("{} has no units attribute: taken to be {} (say otherwise with --units {}=UNITS)", what, spec.units,
                  v.name);
      return;
    }
    std::string why;
    if (convertible(r.file_units, spec.units, spec.bridge, &why)) {
      r.conv = unit_conversion(r.file_units, spec.units, spec.bridge, what);
      return;
    }
    const std::string meant = known_mislabel(r.file_units);
    if (!meant.empty() && convertible(meant, spec.units, spec.bridge)) {
      if (units_warned.insert(v.name).second)
        log::warn("{}: {}; taken as '{}', which such files hold (say otherwise with --units {}=UNITS)", what, why,
                  meant, v.name);
      r.file_units = meant;
      r.conv = unit_conversion(meant, spec.units, spec.bridge, what);
      return;
    }
    fail("{}: {}; if its values are in {}, say so with --units {}='{}'", what, why, spec.units, v.name, spec.units);
  }

  // The reader of a file, opened on first use; at most max(keep, options.open_files) stay open.
  FieldReader& reader(int file, int keep = 0) const {
    for (auto it = cache.begin(); it != cache.end(); ++it)
      if (it->first == file) {
        cache.splice(cache.begin(), cache, it);
        return *cache.front().second;
      }
    const std::string& path = files[static_cast<size_t>(file)].path;
    auto r = std::make_unique<FieldReader>(path);
    if (std::find(opened.begin(), opened.end(), path) == opened.end()) opened.push_back(path);
    cache.emplace_front(file, std::move(r));
    while (static_cast<int>(cache.size()) > std::max({1, keep, options.open_files})) cache.pop_back();
    return *cache.front().second;
  }

  int64_t group_of(int64_t i) const {
    if (i < 0 || i >= total) fail("sample {} is out of range (the archive has {})", i, total);
    auto it =
        std::upper_bound(groups.begin(), groups.end(), i, [](int64_t v, const Group& g) { return v < g.first_sample; });
    return static_cast<int64_t>(it - groups.begin()) - 1;
  }

  // Finds the variable of a spec among the files of a group: by name, then (for a spec that
  // carries them) by standard name and level, then by its aliases. Throws Error naming the file.
  Resolved resolve(const Group& g, const ChannelSpec& spec, bool required_field = true) const {
    if (spec.standard_names.empty() && spec.aliases.empty()) {
      if (options.missing_option.empty()) return resolve_by_name(g, spec, required_field);
      try {
        return resolve_by_name(g, spec, required_field);
      } catch (const Error& e) {
        // Gathered with the other channels into one message that ends with the hint.
        std::string text = e.what();
        const std::string prefix = where(g) + ": ";
        if (text.rfind(prefix, 0) == 0) text = text.substr(prefix.size());
        throw MissingChannel(fmt::format("{}: {}", spec.name, text));
      }
    }
    try {
      return resolve_by_name(g, spec, required_field);
    } catch (const Error&) {
    }
    std::vector<FileMeta> here;
    for (int f : g.files)
      if (matches_file(files[static_cast<size_t>(f)].path, spec.file)) here.push_back(files[static_cast<size_t>(f)]);
    const std::string sn_level = spec.standard_level.empty() ? spec.level : spec.standard_level;
    if (!spec.standard_names.empty()) {
      const std::vector<std::string> found = find_by_standard_name(here, spec.standard_names, sn_level);
      if (found.size() > 1)
        fail("{}: channel {}: several variables have standard_name {}{} ({}): name one, e.g. {}={}", where(g),
             spec.name, spec.standard_names.front(), sn_level.empty() ? "" : " at " + level_text(sn_level),
             fmt::join(found, ", "), spec.name, found.front());
      if (found.size() == 1) {
        ChannelSpec s = ChannelSpec::parse(found.front());
        s.name = spec.name;
        s.file = spec.file;
        Resolved r = resolve_by_name(g, s, required_field);
        const VarMeta& v = files[static_cast<size_t>(r.file)].vars[static_cast<size_t>(r.var)];
        r.spec = found.front();
        r.how = "by standard_name " + v.standard_name;
        return r;
      }
    }
    for (const std::string& alias : spec.aliases) {
      ChannelSpec s = ChannelSpec::parse(alias);
      s.name = spec.name;
      if (s.file.empty()) s.file = spec.file;
      try {
        Resolved r = resolve_by_name(g, s, required_field);
        r.spec = alias;
        r.how = "by known name";
        return r;
      } catch (const Error&) {
      }
    }
    std::vector<std::string> tried = {fmt::format("no variable {}", spec.text)};
    if (!spec.standard_names.empty())
      tried.push_back(fmt::format("none with standard_name {}{}", fmt::join(spec.standard_names, " or "),
                                  sn_level.empty() ? "" : " at " + level_text(sn_level)));
    if (!spec.aliases.empty()) tried.push_back(fmt::format("none of {}", fmt::join(spec.aliases, ", ")));
    throw MissingChannel(fmt::format("{}: {}", describe_wanted(spec), fmt::join(tried, ", ")));
  }

  // "TMQ (kg m-2, atmosphere_mass_content_of_water_vapor)"
  static std::string describe_wanted(const ChannelSpec& spec) {
    ChannelMeta m;
    m.name = spec.name;
    m.units = spec.units;
    m.standard_name = spec.standard_names.empty() ? std::string() : spec.standard_names.front();
    const std::string lv = spec.standard_level.empty() ? spec.level : spec.standard_level;
    m.level = lv.empty() ? std::string() : level_text(lv);
    return m.describe();
  }
  // "850" -> "850 hPa"
  static std::string level_text(const std::string& level) {
    std::string l = level_spec(level);
    const size_t k = l.find_first_not_of("0123456789.-+eE");
    return k == std::string::npos || k == 0 ? l : l.substr(0, k) + " " + l.substr(k);
  }

  std::string where(const Group& g) const {
    const FileMeta& first = files[static_cast<size_t>(g.files.front())];
    return g.files.size() == 1 ? first.path : fmt::format("time step files ({})", basenames(files, g.files));
  }

  // Finds the variable of a spec by its name among the files of a group.
  Resolved resolve_by_name(const Group& g, const ChannelSpec& spec, bool required_field = true) const {
    std::vector<Resolved> found;
    auto search = [&](const std::string& var, bool want_level) {
      for (int f : g.files) {
        const FileMeta& m = files[static_cast<size_t>(f)];
        if (!matches_file(m.path, spec.file)) continue;
        for (size_t v = 0; v < m.vars.size(); ++v)
          if (m.vars[v].name == var && (!want_level || m.vars[v].level_dim < 0))
            found.push_back({f, static_cast<int>(v), 0});
      }
    };
    search(spec.var, false);
    // U@850 on a file that stores U850 as a 2-D field (ClimateNet, DeepCAM, CAM h2 files that also
    // carry 3-D U on other levels): used when U has no such level or is absent.
    auto level_missing = [&] {
      if (found.size() != 1) return found.empty();
      const FileMeta& m = files[static_cast<size_t>(found[0].file)];
      const VarMeta& v = m.vars[static_cast<size_t>(found[0].var)];
      const LevelAxis* axis = v.level_dim >= 0 ? m.find_level(v.level_axis) : nullptr;
      return v.level_dim < 0 || axis == nullptr || find_level_index(*axis, spec.level) < 0;
    };
    if (const std::string flat = spec.flat_level_var(); !flat.empty() && level_missing()) {
      std::vector<Resolved> as_3d = std::move(found);
      found.clear();
      search(flat, true);
      if (!found.empty()) {
        found.resize(1);
        found[0].spec = spec.text;
        found[0].how = "by name";
        return found[0];
      }
      found = std::move(as_3d);
    }
    const std::string where = this->where(g);
    if (found.empty()) {
      std::vector<std::string> avail;
      for (int f : g.files)
        if (matches_file(files[static_cast<size_t>(f)].path, spec.file))
          for (const std::string& n : files[static_cast<size_t>(f)].field_names())
            if (std::find(avail.begin(), avail.end(), n) == avail.end()) avail.push_back(n);
      if (!spec.file.empty() && avail.empty())
        fail("{}: no file of the time step matches '[{}]' in channel '{}'", where, spec.file, spec.text);
      fail("{}: unknown variable '{}' (available: {})", where, spec.var,
           avail.empty() ? "none" : fmt::format("{}", fmt::join(avail, ", ")));
    }
    if (found.size() > 1) {
      std::vector<int> in;
      for (const Resolved& r : found) in.push_back(r.file);
      fail("{}: variable '{}' is in several files of the same time step ({}): say which, e.g. {}[{}]", where, spec.var,
           basenames(files, in), spec.var, fs::path(files[static_cast<size_t>(in[1])].path).stem().string());
    }
    Resolved r = found[0];
    r.spec = spec.text;
    r.how = "by name";
    const FileMeta& m = files[static_cast<size_t>(r.file)];
    const VarMeta& v = m.vars[static_cast<size_t>(r.var)];
    if (required_field && !v.field) fail("{}: variable '{}' cannot be a channel: {}", m.path, v.name, v.why_not);
    if (v.level_dim >= 0) {
      const LevelAxis* axis = m.find_level(v.level_axis);
      if (spec.level.empty()) {
        if (v.levels() > 1 && required_field)
          fail("{}: variable '{}' has {} levels ({}): choose one, e.g. {}@{:g}", m.path, v.name, v.levels(),
               axis ? axis->describe() : "", v.name, axis && !axis->values.empty() ? axis->values[0] : 0.0);
      } else {
        r.level = axis ? find_level_index(*axis, spec.level) : -1;
        if (r.level < 0)
          fail("{}: variable '{}' has no level {} (levels: {})", m.path, v.name, spec.level,
               axis ? axis->describe() : "?");
      }
    } else if (!spec.level.empty() && v.name == spec.var) {
      fail("{}: variable '{}' has no vertical levels, so '@{}' cannot select one", m.path, v.name, spec.level);
    }
    return r;
  }
};

Archive::Archive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Archive::Archive(Archive&&) noexcept = default;
Archive& Archive::operator=(Archive&&) noexcept = default;
Archive::~Archive() = default;

Archive Archive::open(const std::vector<std::string>& inputs, ArchiveOptions options) {
  auto impl = std::make_unique<Impl>();
  Impl& a = *impl;
  a.options = options;
  const std::vector<std::string> paths = expand_inputs(inputs);
  const Comm& comm = options.comm;

  // 1. Metadata, each rank a contiguous block of files, gathered everywhere.
  Block mine = block_partition(static_cast<int64_t>(paths.size()), comm.rank(), comm.size());
  std::vector<std::string> parts = comm.allgather(scan_block(paths, mine, a.scanned));
  std::vector<FileMeta> metas;
  for (const std::string& part : parts) {
    const json* previous_grid = nullptr;
    json items = json::parse(part);
    for (json& item : items) {
      if (item.contains("error")) fail("{}", item["error"].get<std::string>());
      json& j = item["meta"];
      if (j.contains("same_grid") && previous_grid != nullptr) {
        for (const char* k : {"lat", "lon", "glat", "glon"}) j[k] = (*previous_grid)[k];
      }
      metas.push_back(j.get<FileMeta>());
      if (!j.contains("same_grid")) previous_grid = &j;
    }
  }
  if (metas.size() != paths.size()) fail("metadata scan lost files ({} of {})", metas.size(), paths.size());

  // 2. Every file on a latitude-longitude grid.
  for (const FileMeta& m : metas)
    if (!m.grid_error.empty()) fail("{}: {}", m.path, m.grid_error);

  // 3. Time order and grouping by time step.
  const bool any_decoded = std::any_of(metas.begin(), metas.end(), [](const FileMeta& m) { return m.time_decoded; });
  std::vector<std::vector<DateTime>> dates(metas.size());
  Calendar calendar = Calendar::standard;
  if (any_decoded) {
    const FileMeta* first_decoded = nullptr;
    for (size_t k = 0; k < metas.size(); ++k) {
      const FileMeta& m = metas[k];
      if (!m.time_decoded) {
        const FileMeta& other =
            *std::find_if(metas.begin(), metas.end(), [](const FileMeta& x) { return x.time_decoded; });
        fail("{}: no CF time axis ({}), but {} has one: one archive cannot mix them", m.path,
             m.time_note.empty() ? "no time variable" : m.time_note, other.path);
      }
      TimeUnits u = m.time_axis_units();
      if (first_decoded == nullptr) {
        first_decoded = &m;
        calendar = u.calendar;
      } else if (u.calendar != calendar) {
        fail("{}: calendar {} differs from {} in {}", m.path, calendar_name(u.calendar), calendar_name(calendar),
             first_decoded->path);
      }
      for (double v : m.time_values) dates[k].push_back(u.decode(v));
      for (size_t t = 1; t < dates[k].size(); ++t)
        if (!(dates[k][t - 1] < dates[k][t]))
          fail("{}: time steps go backwards or repeat: step {} ({}) is not after step {} ({})", m.path, t,
               dates[k][t].iso(), t - 1, dates[k][t - 1].iso());
      if (dates[k].empty()) fail("{}: the time axis is empty", m.path);
    }
    a.calendar = calendar_name(calendar);
  }
  std::vector<size_t> order(metas.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  if (any_decoded)
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return dates[x].front() < dates[y].front(); });
  for (size_t k : order) a.files.push_back(metas[k]);
  std::vector<std::vector<DateTime>> sorted_dates;
  for (size_t k : order) sorted_dates.push_back(dates[k]);

  // Files with identical time axes are one time step group (one variable per file archives).
  for (size_t k = 0; k < a.files.size(); ++k) {
    const FileMeta& m = a.files[k];
    if (m.steps == 0) fail("{}: the file has no time steps", m.path);
    bool joined = false;
    if (!a.groups.empty()) {
      Group& g = a.groups.back();
      const FileMeta& head = a.files[static_cast<size_t>(g.files.front())];
      if (any_decoded) {
        const auto& prev = sorted_dates[static_cast<size_t>(g.files.front())];
        if (sorted_dates[k] == prev) {
          joined = true;
        } else if (!(prev.back() < sorted_dates[k].front())) {
          fail("{}: time steps overlap with {} ({} .. {} against {} .. {})", m.path, head.path,
               sorted_dates[k].front().iso(), sorted_dates[k].back().iso(), prev.front().iso(), prev.back().iso());
        }
      } else if (m.time_values == head.time_values && m.steps == head.steps) {
        // Without decodable time, siblings must hold different variables.
        std::set<std::string> seen;
        for (int f : g.files)
          for (const std::string& n : a.files[static_cast<size_t>(f)].field_names()) seen.insert(n);
        joined = true;
        for (const std::string& n : m.field_names())
          if (seen.count(n)) joined = false;
      }
    }
    if (joined) {
      a.groups.back().files.push_back(static_cast<int>(k));
    } else {
      Group g;
      g.files = {static_cast<int>(k)};
      g.steps = m.steps;
      a.groups.push_back(std::move(g));
    }
  }

  // 4. One grid for all.
  a.grid = a.files.front().grid;
  for (const FileMeta& m : a.files) {
    std::string diff = grid_difference(a.files.front(), m);
    if (!diff.empty()) fail("{}: grid differs from the first file of the archive: {}", m.path, diff);
  }

  // 5. Channels (and labels) for every group.
  std::vector<ChannelSpec> specs = options.channels;
  if (specs.empty()) {
    for (int f : a.groups.front().files)
      for (const VarMeta& v : a.files[static_cast<size_t>(f)].vars)
        if (v.field && v.levels() == 1 && v.name != "climate/labels_0" && v.name != "LABELS") {
          ChannelSpec s;
          s.name = s.var = s.text = v.name;
          specs.push_back(s);
        }
    if (specs.empty()) fail("{}: no 2-D fields to read as channels", a.files.front().path);
  }
  for (const ChannelSpec& s : specs) a.names.push_back(s.name);
  a.specs = specs;
  {
    // Every channel the first group lacks, in one message.
    std::vector<std::string> missing, fix;
    Group& g = a.groups.front();
    for (const ChannelSpec& s : specs) try {
        g.channels.push_back(a.resolve(g, s));
      } catch (const MissingChannel& e) {
        missing.push_back(e.what());
        fix.push_back(s.name + "=VAR");
      }
    if (!missing.empty()) {
      std::vector<std::string> avail;
      for (int f : g.files)
        for (const VarMeta& v : a.files[static_cast<size_t>(f)].vars)
          if (v.field)
            avail.push_back(v.standard_name.empty() ? v.name : fmt::format("{} ({})", v.name, v.standard_name));
      fail("{}: {} of the {} channels {}: {}; the file{} {}{}", a.where(g), missing.size(), specs.size(),
           missing.size() == 1 ? "is missing" : "are missing", fmt::join(missing, "; "),
           g.files.size() == 1 ? " has" : "s have",
           avail.empty() ? "no fields" : fmt::format("{}", fmt::join(avail, ", ")),
           options.missing_option.empty()
               ? std::string()
               : fmt::format("; name the variable of each with {} {}", options.missing_option, fmt::join(fix, ",")));
    }
  }
  int64_t offset = 0;
  for (Group& g : a.groups) {
    if (&g != &a.groups.front())
      for (const ChannelSpec& s : specs) g.channels.push_back(a.resolve(g, s));
    for (size_t c = 0; c < specs.size(); ++c) a.plan_units(g.channels[c], specs[c]);
    if (!options.labels.empty()) {
      if (options.labels == "auto") {
        for (int f : g.files)
          for (const char* name : {"LABELS", "climate/labels_0"}) {
            const VarMeta* v = a.files[static_cast<size_t>(f)].find_var(name);
            if (v && v->field && g.labels.file < 0) {
              ChannelSpec s;
              s.var = s.name = s.text = name;
              g.labels = a.resolve(g, s);
            }
          }
      } else {
        g.labels = a.resolve(g, ChannelSpec::parse(options.labels));
      }
    }
    g.first_sample = offset;
    offset += g.steps;
  }
  a.total = offset;
  a.labels = std::all_of(a.groups.begin(), a.groups.end(), [](const Group& g) { return g.labels.file >= 0; });
  if (!a.labels && options.labels == "auto")
    for (Group& g : a.groups) g.labels = Resolved{};
  for (size_t c = 0; c < specs.size(); ++c) {
    const Resolved& r = a.groups.front().channels[c];
    const FileMeta& m = a.files[static_cast<size_t>(r.file)];
    const VarMeta& v = m.vars[static_cast<size_t>(r.var)];
    ChannelSource src;
    src.name = specs[c].name;
    src.spec = r.spec;
    src.how = r.how;
    src.var = v.name;
    src.file = m.path;
    src.file_units = r.file_units;
    src.units = specs[c].units.empty() ? r.file_units : specs[c].units;
    src.standard_name = v.standard_name;
    if (v.level_dim >= 0 && v.levels() > 1)
      if (const LevelAxis* axis = m.find_level(v.level_axis))
        src.level = fmt::format("{:g}{}{}", axis->values[static_cast<size_t>(r.level)], axis->units.empty() ? "" : " ",
                                axis->units);
    src.conversion = r.conv;
    a.units.push_back(src.units);
    a.sources.push_back(std::move(src));
  }
  // A sample holds data and validity (C, H, W) and labels (H, W): refuse a grid that cannot fit
  // before anyone allocates it.
  {
    const double cells = static_cast<double>(a.grid.height()) * static_cast<double>(a.grid.width());
    const double values = cells * (2.0 * static_cast<double>(specs.size()) + 1.0);
    check_allocation(a.files.front().path,
                     fmt::format("one sample ({} channels on a {} grid)", specs.size(), a.grid.shape_str()),
                     values < 9.0e18 ? static_cast<int64_t>(values) : INT64_MAX, sizeof(float));
  }
  log::debug("archive: {} files, {} time-step groups, {} samples, grid {}", a.files.size(), a.groups.size(), a.total,
             a.grid.shape_str());
  return Archive(std::move(impl));
}

int64_t Archive::size() const { return impl_->total; }
const geo::Grid& Archive::grid() const { return impl_->grid; }
const std::vector<std::string>& Archive::channel_names() const { return impl_->names; }
const std::vector<std::string>& Archive::channel_units() const { return impl_->units; }
const std::vector<ChannelSource>& Archive::channel_sources() const { return impl_->sources; }

std::vector<ChannelMeta> Archive::channel_meta() const {
  std::vector<ChannelMeta> out;
  for (const ChannelSource& s : impl_->sources) {
    ChannelMeta m;
    m.name = s.name;
    m.units = s.units;
    m.standard_name = s.standard_name;
    m.level = s.level.empty() ? std::string() : level_spec(s.level);
    // Fill what the file does not say from the quantity the channel's name is (U850: eastward
    // wind at 850 hPa), when the two agree.
    if (const Quantity* q = quantity_of(s.name)) {
      const bool agrees = m.standard_name.empty() || std::find(q->standard_names.begin(), q->standard_names.end(),
                                                               m.standard_name) != q->standard_names.end();
      if (agrees) {
        if (m.standard_name.empty() && !q->standard_names.empty()) m.standard_name = q->standard_names.front();
        if (m.level.empty()) m.level = q->level;
      }
    }
    if (!m.level.empty() && m.level.find(' ') == std::string::npos) {
      // level_spec gives "850hPa": keep "850 hPa" in checkpoints
      const size_t k = m.level.find_first_not_of("0123456789.-+eE");
      if (k != std::string::npos && k > 0) m.level = m.level.substr(0, k) + " " + m.level.substr(k);
    }
    out.push_back(std::move(m));
  }
  return out;
}
bool Archive::has_labels() const { return impl_->labels; }
const std::vector<FileMeta>& Archive::files() const { return impl_->files; }
std::string Archive::calendar() const { return impl_->calendar; }
int64_t Archive::files_scanned() const { return impl_->scanned; }

std::vector<std::string> Archive::files_opened() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->opened;
}

SampleInfo Archive::info(int64_t i) const {
  const Impl& a = *impl_;
  SampleInfo s;
  s.group = a.group_of(i);
  const Group& g = a.groups[static_cast<size_t>(s.group)];
  s.time_index = i - g.first_sample;
  const FileMeta& m = a.files[static_cast<size_t>(g.files.front())];
  s.file = m.path;
  if (!m.time_values.empty()) s.time_value = m.time_values[static_cast<size_t>(s.time_index)];
  if (m.time_decoded) {
    s.has_date = true;
    s.date = m.date(s.time_index);
  }
  return s;
}

std::vector<std::string> Archive::group_files(int64_t g) const {
  const Impl& a = *impl_;
  if (g < 0 || g >= static_cast<int64_t>(a.groups.size())) fail("archive: no time-step group {}", g);
  std::vector<std::string> out;
  for (int f : a.groups[static_cast<size_t>(g)].files) out.push_back(a.files[static_cast<size_t>(f)].path);
  return out;
}

Sample Archive::load(int64_t i) const {
  Sample s;
  load_into(i, s);
  return s;
}

void Archive::load_into(int64_t i, Sample& s) const {
  const Impl& a = *impl_;
  const SampleInfo inf = info(i);
  const Group& g = a.groups[static_cast<size_t>(inf.group)];
  const FileMeta& head = a.files[static_cast<size_t>(g.files.front())];
  const int64_t H = a.grid.height(), W = a.grid.width(), n = H * W;
  const auto C = static_cast<int64_t>(g.channels.size());

  // Reuse the caller's buffers when they have the right shape: a fresh 56 MB tensor costs page
  // faults and kernel zeroing comparable to reading the sample itself.
  Tensor data = s.data.shape() == Shape{C, H, W} ? s.data : Tensor::empty({C, H, W});
  Tensor spare_valid = s.valid.shape() == Shape{C, H, W} ? s.valid : Tensor();
  Tensor labels = s.labels.shape() == Shape{H, W} ? s.labels : Tensor();
  s = Sample{};
  s.data = std::move(data);
  s.grid = a.grid;
  s.orientation = head.orientation;
  s.file = head.path;
  s.index = i;
  s.time_index = inf.time_index;
  s.time_value = inf.time_value;
  s.time_units = head.time_units;
  s.calendar = head.time_decoded ? (head.calendar.empty() ? std::string("standard") : head.calendar) : std::string();
  s.has_date = inf.has_date;
  s.date = inf.date;
  if (inf.has_date) s.time_iso = inf.date.iso();
  s.channels = a.names;
  std::vector<int64_t> invalid(static_cast<size_t>(C), 0), nonfinite(static_cast<size_t>(C), 0);

  std::lock_guard<std::mutex> lock(a.mutex);
  // Channels stored as plain or deflated float chunks in netCDF-4 files are read as raw bytes and
  // inflated on all threads (direct_read.hpp); the rest go through the library one by one.
  struct Job {
    int64_t c;
    DirectPlan plan;
    Unpacking unpack;
    const FileMeta* meta;
  };
  std::vector<Job> jobs;
  const int keep_open = std::max<int>(a.options.open_files, static_cast<int>(g.files.size()));
  for (int64_t c = 0; c < C; ++c) {
    const Resolved& r = g.channels[static_cast<size_t>(c)];
    const FileMeta& m = a.files[static_cast<size_t>(r.file)];
    const VarMeta& v = m.vars[static_cast<size_t>(r.var)];
    const std::string& want = a.specs[static_cast<size_t>(c)].units;
    s.units.push_back(want.empty() ? r.file_units : want);
    float* out = s.data.data() + c * n;
    FieldReader& reader = a.reader(r.file, keep_open);
    Job job{c, {}, {}, &m};
    if (a.options.direct_read && reader.plan_direct(m, v, inf.time_index, r.level, job.plan, job.unpack))
      jobs.push_back(std::move(job));
    else {
      take_nonfinite();
      invalid[static_cast<size_t>(c)] = reader.read(m, v, inf.time_index, r.level, out);
      nonfinite[static_cast<size_t>(c)] = take_nonfinite();
    }
  }
  if (head.deepcam)
    for (int f : g.files) a.reader(f, keep_open).drop_cache();
  // Start the reads of this step's stored bytes and of the next step's in the same files, so that
  // the storage works while this step is inflated and used: an archive that is not in the page cache
  // (a parallel file system, a node's first pass) otherwise waits for each channel's bytes in turn,
  // and for the next step's only when it is asked for. Costs no core (a kernel hint).
  if (!jobs.empty()) {
    for (const Job& job : jobs) advise_willneed(job.plan);
    if (inf.time_index + 1 < g.steps)
      for (const Job& job : jobs) {
        const Resolved& r = g.channels[static_cast<size_t>(job.c)];
        DirectPlan next;
        Unpacking unused;
        if (a.reader(r.file, keep_open)
                .plan_direct(*job.meta, job.meta->vars[static_cast<size_t>(r.var)], inf.time_index + 1, r.level, next,
                             unused))
          advise_willneed(next);
      }
  }
  if (!jobs.empty()) {
    std::string error;
    const int threads = a.options.read_threads > 0 ? a.options.read_threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (jobs.size() > 1 && threads > 1)
    for (size_t k = 0; k < jobs.size(); ++k) {
      thread_local std::vector<unsigned char> scratch;
      thread_local std::vector<float> file_order;
      const Job& job = jobs[k];
      float* out = s.data.data() + job.c * n;
      try {
        const bool identity = job.meta->orientation.identity();
        const int64_t nf = H * job.meta->orientation.file_width(W);
        if (!identity) file_order.resize(static_cast<size_t>(nf));
        float* dst = identity ? out : file_order.data();
        execute_direct(job.plan, job.meta->path, dst, scratch);
        take_nonfinite();
        int64_t bad = flag_invalid(dst, nf, job.unpack);
        nonfinite[static_cast<size_t>(job.c)] = take_nonfinite();
        if (!identity) to_canonical(dst, out, H, W, job.meta->orientation);
        if (nf != n && bad > 0) bad = count_invalid(out, n);  // a repeated meridian counts once
        invalid[static_cast<size_t>(job.c)] = bad;
      } catch (const std::exception& e) {
#pragma omp critical(climseg_direct_error)
        if (error.empty()) error = e.what();
      }
    }
    if (!error.empty()) fail("{}", error);
  }
  // Units the consumer asked for (invalid values are NaN here and stay so).
  for (int64_t c = 0; c < C; ++c) g.channels[static_cast<size_t>(c)].conv.apply(s.data.data() + c * n, n);
  for (int64_t c = 0; c < C; ++c) {
    const int64_t bad = invalid[static_cast<size_t>(c)];
    if (bad == 0) continue;
    if (const int64_t nf = nonfinite[static_cast<size_t>(c)]; nf > 0) {
      const Resolved& r = g.channels[static_cast<size_t>(c)];
      const FileMeta& m = a.files[static_cast<size_t>(r.file)];
      if (s.nonfinite.empty()) s.nonfinite.assign(static_cast<size_t>(C), 0);
      s.nonfinite[static_cast<size_t>(c)] = nf;
      // Once per file and variable at warning level (an archive may have thousands of such steps).
      const std::string key = m.path + "\n" + m.vars[static_cast<size_t>(r.var)].name;
      const bool first = a.nonfinite_warned.insert(key).second;
      const std::string what =
          fmt::format("{}: variable {} at {}: {} NaN/Inf value(s) that are not fill values, masked", m.path,
                      m.vars[static_cast<size_t>(r.var)].name,
                      s.time_iso.empty() ? fmt::format("step {}", inf.time_index) : s.time_iso, nf);
      if (first)
        log::warn("{} (further steps of this variable and file are logged with -v)", what);
      else
        log::debug("{}", what);
    }
    if (s.valid.numel() == 0) {
      s.valid = spare_valid.numel() ? spare_valid : Tensor::empty({C, H, W});
      s.valid.fill(1.0f);
    }
    finish_mask(s.data.data() + c * n, s.valid.data() + c * n, n);
    if (bad == n) {
      const Resolved& r = g.channels[static_cast<size_t>(c)];
      const FileMeta& m = a.files[static_cast<size_t>(r.file)];
      const std::string what = fmt::format("{}: variable {} (channel {}) at {} is entirely fill values", m.path,
                                           m.vars[static_cast<size_t>(r.var)].name, a.names[static_cast<size_t>(c)],
                                           s.time_iso.empty() ? fmt::format("step {}", inf.time_index) : s.time_iso);
      if (a.options.all_fill == FillPolicy::error) fail("{}", what);
      log::warn("{}{}", what, a.options.all_fill == FillPolicy::skip ? ": sample skipped" : ": masked");
      s.empty_channels.push_back(a.names[static_cast<size_t>(c)]);
      if (a.options.all_fill == FillPolicy::skip) s.skip = true;
    }
  }
  if (g.labels.file >= 0) {
    const FileMeta& m = a.files[static_cast<size_t>(g.labels.file)];
    const VarMeta& v = m.vars[static_cast<size_t>(g.labels.var)];
    s.labels = labels.numel() ? labels : Tensor::empty({H, W});
    if (a.reader(g.labels.file).read(m, v, inf.time_index, g.labels.level, s.labels.data()) > 0)
      for (float& x : s.labels)
        if (x != x) x = -1.0f;
  }
}

Field3D Archive::load_field(int64_t i, const std::string& var, const std::string& units) const {
  const Impl& a = *impl_;
  const SampleInfo inf = info(i);
  const Group& g = a.groups[static_cast<size_t>(inf.group)];
  ChannelSpec spec = ChannelSpec::parse(var);
  if (!spec.level.empty()) fail_usage("load_field('{}'): a 3-D field takes no level", var);
  Resolved r = a.resolve(g, spec, false);
  const FileMeta& m = a.files[static_cast<size_t>(r.file)];
  const VarMeta& v = m.vars[static_cast<size_t>(r.var)];
  if (v.lat_dim < 0 || v.lon_dim < 0 || (!v.field && v.level_dim < 0))
    fail("{}: variable '{}' cannot be read as a field: {}", m.path, v.name, v.why_not);
  const int64_t H = a.grid.height(), W = a.grid.width(), n = H * W, L = v.levels();
  Field3D f;
  f.var = v.name;
  f.units = a.units_of(v);
  f.file = m.path;
  UnitConversion conv;
  if (!units.empty() && !normalize_units(f.units).empty()) {
    std::string file_units = f.units, why;
    if (!convertible(file_units, units, UnitBridge::none, &why) && !known_mislabel(file_units).empty())
      file_units = known_mislabel(file_units);
    if (!convertible(file_units, units))
      fail("{}: variable {}: {}; if its values are in {}, say so with --units {}='{}'", m.path, v.name, why, units,
           v.name, units);
    conv = unit_conversion(file_units, units, UnitBridge::none, m.path + ": variable " + v.name);
    f.units = units;
  }
  if (const LevelAxis* axis = m.find_level(v.level_axis)) {
    f.levels = *axis;
    if (axis->is_pressure())
      for (double x : axis->values) f.level_pa.push_back(x * axis->pa_per_unit());
  }
  check_allocation(m.path, "the 3-D field " + v.name, 2 * L * n, sizeof(float));
  f.data = Tensor::empty({L, H, W});
  std::lock_guard<std::mutex> lock(a.mutex);
  FieldReader& reader = a.reader(r.file);
  for (int64_t l = 0; l < L; ++l) {
    float* out = f.data.data() + l * n;
    const int64_t bad = reader.read(m, v, inf.time_index, l, out);
    conv.apply(out, n);
    if (bad > 0) {
      if (f.valid.numel() == 0) f.valid = Tensor::full({L, H, W}, 1.0f);
      finish_mask(out, f.valid.data() + l * n, n);
    }
  }
  // CAM hybrid sigma-pressure: hyam/hybm on the same axis, P0, PS of the same time step.
  f.hyam = reader.read_vector("hyam");
  f.hybm = reader.read_vector("hybm");
  if (static_cast<int64_t>(f.hyam.size()) == L && static_cast<int64_t>(f.hybm.size()) == L) {
    auto p0 = reader.read_vector("P0");
    f.p0 = p0.empty() ? 100000.0 : p0[0];  // CAM's reference pressure when the file omits it
    for (int file : g.files) {
      const FileMeta& fm = a.files[static_cast<size_t>(file)];
      const VarMeta* ps = fm.find_var("PS");
      if (ps == nullptr || !ps->field || ps->level_dim >= 0) continue;
      f.ps = Tensor::empty({H, W});
      a.reader(file).read(fm, *ps, inf.time_index, 0, f.ps.data());
      LevelAxis probe;
      probe.units = ps->units;
      const double scale = probe.pa_per_unit() > 0 ? probe.pa_per_unit() : 1.0;
      for (float& x : f.ps) x = x == x ? static_cast<float>(x * scale) : 0.0f;
      break;
    }
  } else {
    f.hyam.clear();
    f.hybm.clear();
  }
  return f;
}

}  // namespace climseg::io
