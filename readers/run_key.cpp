// Rerun keys: the key's content, reading it back from an output, and the first difference in words.
#include "readers/run_key.hpp"

#include <fmt/format.h>
#include <netcdf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/h5.hpp"
#include "core/log.hpp"

namespace climseg::io {
namespace fs = std::filesystem;
using nlohmann::json;

json file_identity(const fs::path& path) {
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(fs::absolute(path), ec);
  const auto size = fs::file_size(path, ec);
  if (ec) fail("{}: cannot read its size ({})", path.string(), ec.message());
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail("{}: cannot read its modification time ({})", path.string(), std::strerror(errno));
  const int64_t ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + int64_t(st.st_mtim.tv_nsec);
  return {{"path", (abs.empty() ? path : abs).string()}, {"size", size}, {"mtime_ns", ns}};
}

RunKey make_run_key(const std::string& command, json config, const std::vector<std::string>& inputs,
                    const std::string& model_sha256) {
  json files = json::array();
  for (const std::string& f : inputs) files.push_back(file_identity(f));
  RunKey k;
  k.json = {
      {"command", command}, {"config", std::move(config)}, {"inputs", std::move(files)}, {"climseg", build::version()}};
  if (!model_sha256.empty()) k.json["model_sha256"] = model_sha256;
  return k;
}

std::optional<json> read_run_key(const fs::path& output) {
  h5::LibraryLock lock(h5::library_mutex());
  int nc = -1;
  if (nc_open(output.c_str(), NC_NOWRITE, &nc) != NC_NOERR) return std::nullopt;
  size_t len = 0;
  nc_type type{};
  std::string text;
  const bool ok =
      nc_inq_att(nc, NC_GLOBAL, kRunKeyAttr, &type, &len) == NC_NOERR && type == NC_CHAR &&
      (text.assign(len, '\0'), len == 0 || nc_get_att_text(nc, NC_GLOBAL, kRunKeyAttr, text.data()) == NC_NOERR);
  nc_close(nc);
  if (!ok) return std::nullopt;
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<KeptOutput> read_kept_output(const fs::path& output, const std::string& var, int var_rank,
                                           const std::vector<std::string>& text_attrs) {
  h5::LibraryLock lock(h5::library_mutex());
  int nc = -1;
  if (nc_open(output.c_str(), NC_NOWRITE, &nc) != NC_NOERR) return std::nullopt;
  KeptOutput out;
  auto text = [&](const std::string& name) {
    size_t len = 0;
    nc_type type{};
    if (nc_inq_att(nc, NC_GLOBAL, name.c_str(), &type, &len) != NC_NOERR || type != NC_CHAR) return false;
    std::string& v = out.attrs[name];
    v.assign(len, '\0');
    return len == 0 || nc_get_att_text(nc, NC_GLOBAL, name.c_str(), v.data()) == NC_NOERR;
  };
  int id = -1, ndims = 0;
  std::vector<int> dims(NC_MAX_VAR_DIMS);
  size_t len = 0;
  bool ok = nc_inq_varid(nc, var.c_str(), &id) == NC_NOERR && nc_inq_varndims(nc, id, &ndims) == NC_NOERR &&
            ndims == var_rank && ndims > 0 && nc_inq_vardimid(nc, id, dims.data()) == NC_NOERR &&
            nc_inq_dimlen(nc, dims[0], &len) == NC_NOERR;
  for (const auto& a : text_attrs) ok = ok && text(a);
  nc_close(nc);
  if (!ok) return std::nullopt;
  out.steps = static_cast<int64_t>(len);
  return out;
}

namespace {

std::string shown(const json& v) {
  if (v.is_null()) return "(not set)";
  if (v.is_string()) return v.get<std::string>().empty() ? "(empty)" : v.get<std::string>();
  return v.dump();
}

// The first difference between two configurations, "--option is A in it, B now".
std::string config_difference(const json& a, const json& b, const std::string& where) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : b.items()) {
      const std::string name = where.empty() ? k : where + "." + k;
      if (!a.contains(k)) return fmt::format("{} is not set in it, {} now", name, shown(v));
      if (std::string d = config_difference(a.at(k), v, name); !d.empty()) return d;
    }
    for (const auto& [k, v] : a.items())
      if (!b.contains(k))
        return fmt::format("{} is {} in it, not set now", where.empty() ? k : where + "." + k, shown(v));
    return {};
  }
  if (a == b) return {};
  return fmt::format("{} is {} in it, {} now", where.empty() ? "the configuration" : where, shown(a), shown(b));
}

}  // namespace

std::string run_key_difference(const json& a, const json& b) {
  auto get = [](const json& j, const char* k) { return j.contains(k) ? j.at(k) : json(); };
  if (get(a, "command") != get(b, "command"))
    return fmt::format("written by climseg {}, not {}", shown(get(a, "command")), shown(get(b, "command")));
  if (get(a, "climseg") != get(b, "climseg"))
    return fmt::format("written by climseg {}, this is {}", shown(get(a, "climseg")), shown(get(b, "climseg")));
  if (get(a, "model_sha256") != get(b, "model_sha256"))
    return "made with another model (its SHA-256 differs from this --model's)";
  if (std::string d = config_difference(get(a, "config"), get(b, "config"), ""); !d.empty()) return d;
  const json ia = get(a, "inputs"), ib = get(b, "inputs");
  for (size_t k = 0; k < std::max(ia.size(), ib.size()); ++k) {
    if (k >= ia.size()) return fmt::format("input {} was not one of its inputs", shown(ib[k].value("path", json())));
    if (k >= ib.size()) return fmt::format("its input {} is not an input now", shown(ia[k].value("path", json())));
    if (ia[k].value("path", json()) != ib[k].value("path", json()))
      return fmt::format("made from {}, not {}", shown(ia[k].value("path", json())),
                         shown(ib[k].value("path", json())));
    if (ia[k] != ib[k])
      return fmt::format("input {} changed since (size or modification time)", shown(ib[k].value("path", json())));
  }
  return {};
}

bool keep_existing(const fs::path& output, const RunKey& key, Rerun policy) {
  std::error_code ec;
  if (!fs::exists(output, ec)) return false;
  if (policy == Rerun::overwrite) return false;
  const std::optional<json> old = read_run_key(output);
  const std::string diff = old ? run_key_difference(*old, key.json)
                               : std::string("it has no run key (written by an older climseg or another program)");
  if (diff.empty()) return true;
  if (policy == Rerun::refuse_different)
    fail(
        "{}: exists and differs from what this run would write: {} (remove it, choose another --out, or drop "
        "--no-overwrite to redo it)",
        output.string(), diff);
  log::info("{}: redone: {}", output.filename().string(), diff);
  return false;
}

}  // namespace climseg::io
