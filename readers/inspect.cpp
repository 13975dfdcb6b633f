// The raw view of a NetCDF/HDF5 file, as JSON and as text.
#include "readers/inspect.hpp"

#include <fmt/format.h>

#include <array>

#include "core/error.hpp"
#include "readers/netcdf_file.hpp"

namespace climseg::io {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json atts_json(int ncid, int varid, const std::string& path) {
  json out = json::array();
  for (const AttValue& a : nc_atts(ncid, varid, path)) {
    json j;
    j["name"] = a.name;
    j["type"] = nc_type_name(a.type);
    if (a.is_text())
      j["value"] = a.text;
    else if (a.numbers.size() == 1)
      j["value"] = a.numbers[0];
    else
      j["value"] = a.numbers;
    out.push_back(std::move(j));
  }
  return out;
}

// Reads the last element of a variable: in a truncated netCDF-3 file the header survives but the
// data does not, and this is where it shows.
void check_readable(int ncid, int varid, const std::vector<size_t>& shape, const std::string& path,
                    const std::string& var) {
  nc_type t{};
  nc_inq_vartype(ncid, varid, &t);
  if (t == NC_STRING || t > NC_STRING) return;
  for (size_t n : shape)
    if (n == 0) return;
  std::vector<size_t> index(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) index[i] = shape[i] - 1;
  std::array<unsigned char, 16> buf{};
  int rc = nc_get_var1(ncid, varid, index.data(), buf.data());
  if (rc != NC_NOERR)
    fail("{}: variable {}: data cannot be read, the file is truncated or damaged ({})", path, var, nc_strerror(rc));
}

json group_json(int ncid, const std::string& path) {
  json g;
  g["name"] = nc_group_name(ncid);
  int ndims = 0, nvars = 0, unlimdim = -1;
  nc_check(nc_inq(ncid, &ndims, &nvars, nullptr, &unlimdim), path, "inquire");
  // In netCDF-4 groups the dimension ids visible here are not always 0..ndims-1.
  std::vector<int> dimids(static_cast<size_t>(ndims));
  if (ndims > 0) nc_check(nc_inq_dimids(ncid, &ndims, dimids.data(), 0), path, "dimensions");
  std::vector<int> unlim(16);
  int nunlim = 0;
  nc_inq_unlimdims(ncid, &nunlim, nullptr);
  unlim.resize(static_cast<size_t>(nunlim));
  if (nunlim > 0) nc_inq_unlimdims(ncid, &nunlim, unlim.data());
  json dims = json::array();
  for (int d : dimids) {
    json jd;
    jd["name"] = nc_dim_name(ncid, d);
    jd["length"] = nc_dim_len(ncid, d);
    jd["unlimited"] = std::find(unlim.begin(), unlim.end(), d) != unlim.end();
    dims.push_back(std::move(jd));
  }
  g["dimensions"] = std::move(dims);
  json vars = json::array();
  for (int v = 0; v < nvars; ++v) {
    json jv;
    std::string name = nc_var_name(ncid, v);
    nc_type t{};
    nc_inq_vartype(ncid, v, &t);
    jv["name"] = name;
    jv["type"] = nc_type_name(t);
    json dnames = json::array();
    for (int d : nc_var_dims(ncid, v)) dnames.push_back(nc_dim_name(ncid, d));
    jv["dimensions"] = std::move(dnames);
    auto shape = nc_var_shape(ncid, v);
    jv["shape"] = shape;
    jv["units"] = nc_att_text(ncid, v, "units");
    jv["long_name"] = nc_att_text(ncid, v, "long_name");
    jv["attributes"] = atts_json(ncid, v, path);
    check_readable(ncid, v, shape, path, name);
    vars.push_back(std::move(jv));
  }
  g["variables"] = std::move(vars);
  g["attributes"] = atts_json(ncid, NC_GLOBAL, path);
  json subgroups = json::array();
  for (int child : nc_groups(ncid)) subgroups.push_back(group_json(child, path));
  g["groups"] = std::move(subgroups);
  return g;
}

std::string att_value_text(const json& a) {
  const json& v = a["value"];
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.size() > 120) s = s.substr(0, 117) + "...";
    return "\"" + s + "\"";
  }
  auto num = [&](const json& x) {
    double d = x.get<double>();
    return (a["type"] == "float" || a["type"] == "double") ? fmt::format("{:.7g}", d)
                                                           : fmt::format("{}", static_cast<long long>(d));
  };
  if (v.is_array()) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + num(v[i]);
    return s;
  }
  return num(v);
}

void format_group(const json& g, const std::string& indent, std::string& out) {
  if (!g["dimensions"].empty()) {
    out += indent + "dimensions:\n";
    for (const json& d : g["dimensions"])
      out += fmt::format("{}  {} = {}{}\n", indent, d["name"].get<std::string>(), d["length"].get<size_t>(),
                         d["unlimited"].get<bool>() ? " (unlimited)" : "");
  }
  if (!g["variables"].empty()) {
    out += indent + "variables:\n";
    for (const json& v : g["variables"]) {
      std::vector<std::string> dims;
      for (size_t i = 0; i < v["dimensions"].size(); ++i)
        dims.push_back(fmt::format("{}={}", v["dimensions"][i].get<std::string>(), v["shape"][i].get<size_t>()));
      out += fmt::format("{}  {} {}({})", indent, v["type"].get<std::string>(), v["name"].get<std::string>(),
                         fmt::join(dims, ", "));
      std::string units = v["units"], long_name = v["long_name"];
      if (!long_name.empty()) out += "  \"" + long_name + "\"";
      if (!units.empty()) out += "  [" + units + "]";
      out += "\n";
      for (const json& a : v["attributes"]) {
        std::string an = a["name"];
        if (an == "units" || an == "long_name") continue;
        out += fmt::format("{}      :{} = {}\n", indent, an, att_value_text(a));
      }
    }
  }
  if (!g["attributes"].empty()) {
    out += indent + "global attributes:\n";
    for (const json& a : g["attributes"])
      out += fmt::format("{}  :{} = {}\n", indent, a["name"].get<std::string>(), att_value_text(a));
  }
  for (const json& child : g["groups"]) {
    out += fmt::format("{}group {}:\n", indent, child["name"].get<std::string>());
    format_group(child, indent + "  ", out);
  }
}

}  // namespace

json inspect_raw(const fs::path& path) {
  NcFile file(path);
  json r;
  r["path"] = path.string();
  r["format"] = file.format_name();
  std::error_code ec;
  r["size_bytes"] = fs::file_size(path, ec);
  json root = group_json(file.id(), path.string());
  r["dimensions"] = root["dimensions"];
  r["variables"] = root["variables"];
  r["attributes"] = root["attributes"];
  r["groups"] = root["groups"];
  return r;
}

std::string format_raw(const json& r) {
  std::string out = fmt::format("{}  ({}, {} bytes)\n", r["path"].get<std::string>(), r["format"].get<std::string>(),
                                r["size_bytes"].get<uint64_t>());
  format_group(r, "", out);
  return out;
}

}  // namespace climseg::io
