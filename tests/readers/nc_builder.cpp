// Small NetCDF files for reader tests.
#include "nc_builder.hpp"

#include <map>
#include <stdexcept>

namespace climseg::test {

namespace {
void check(int rc, const std::string& what) {
  if (rc != NC_NOERR) throw std::runtime_error(what + ": " + nc_strerror(rc));
}
}  // namespace

NcBuilder::NcBuilder(std::filesystem::path path, int cmode) : path_(std::move(path)), cmode_(cmode) {}

NcBuilder& NcBuilder::dim(const std::string& name, size_t len) {
  dims_.emplace_back(name, len);
  return *this;
}

NcBuilder& NcBuilder::var(const std::string& name, nc_type type, std::vector<std::string> dims,
                          std::vector<double> values) {
  vars_.push_back({name, type, std::move(dims), std::move(values), {}});
  return *this;
}

NcBuilder& NcBuilder::storage(const std::string& var, std::vector<size_t> chunks, int deflate, bool shuffle) {
  for (Var& v : vars_)
    if (v.name == var) {
      v.storage = true;
      v.chunks = std::move(chunks);
      v.deflate = deflate;
      v.shuffle = shuffle;
    }
  return *this;
}

NcBuilder& NcBuilder::text_var(const std::string& name, const std::string& dim, const std::string& text) {
  vars_.push_back({name, NC_CHAR, {dim}, {}, text});
  return *this;
}

NcBuilder& NcBuilder::att(const std::string& var, const std::string& name, const std::string& text) {
  atts_.push_back({var, name, text, NC_CHAR, {}});
  return *this;
}

NcBuilder& NcBuilder::att(const std::string& var, const std::string& name, nc_type type, std::vector<double> values) {
  atts_.push_back({var, name, {}, type, std::move(values)});
  return *this;
}

void NcBuilder::write() {
  int ncid = -1;
  check(nc_create(path_.c_str(), NC_CLOBBER | cmode_, &ncid), path_.string());
  std::map<std::string, int> dimids;
  std::map<std::string, size_t> unlimited_len;
  for (auto& [name, len] : dims_) {
    int id = -1;
    check(nc_def_dim(ncid, name.c_str(), len == 0 ? NC_UNLIMITED : len, &id), "dim " + name);
    dimids[name] = id;
  }
  std::map<std::string, int> varids;
  for (const Var& v : vars_) {
    std::vector<int> ids;
    for (const std::string& d : v.dims) ids.push_back(dimids.at(d));
    int id = -1;
    check(nc_def_var(ncid, v.name.c_str(), v.type, static_cast<int>(ids.size()), ids.data(), &id), "var " + v.name);
    varids[v.name] = id;
    if (v.storage) {
      if (v.chunks.empty())
        check(nc_def_var_chunking(ncid, id, NC_CONTIGUOUS, nullptr), "contiguous " + v.name);
      else
        check(nc_def_var_chunking(ncid, id, NC_CHUNKED, v.chunks.data()), "chunking " + v.name);
      if (v.deflate > 0 || v.shuffle)
        check(nc_def_var_deflate(ncid, id, v.shuffle ? 1 : 0, v.deflate > 0 ? 1 : 0, v.deflate), "deflate " + v.name);
    }
  }
  for (const Att& a : atts_) {
    int vid = a.var.empty() ? NC_GLOBAL : varids.at(a.var);
    if (a.type == NC_CHAR)
      check(nc_put_att_text(ncid, vid, a.name.c_str(), a.text.size(), a.text.c_str()), "att " + a.name);
    else
      check(nc_put_att_double(ncid, vid, a.name.c_str(), a.type, a.values.size(), a.values.data()), "att " + a.name);
  }
  check(nc_enddef(ncid), "enddef");
  for (const Var& v : vars_) {
    int vid = varids.at(v.name);
    if (v.type == NC_CHAR) {
      std::vector<size_t> start{0}, count{v.text.size()};
      check(nc_put_vara_text(ncid, vid, start.data(), count.data(), v.text.c_str()), "put " + v.name);
      continue;
    }
    if (v.values.empty()) continue;
    // Unlimited dimensions take their length from the values.
    std::vector<size_t> start(v.dims.size(), 0), count;
    size_t inner = 1;
    for (size_t d = 1; d < v.dims.size(); ++d)
      for (auto& [name, len] : dims_)
        if (name == v.dims[d]) inner *= len;
    for (size_t d = 0; d < v.dims.size(); ++d)
      for (auto& [name, len] : dims_)
        if (name == v.dims[d]) count.push_back(len == 0 ? v.values.size() / inner : len);
    check(nc_put_vara_double(ncid, vid, start.data(), count.data(), v.values.data()), "put " + v.name);
  }
  check(nc_close(ncid), "close");
}

std::vector<double> NcBuilder::lats(size_t h, double first, double step) {
  std::vector<double> out(h);
  for (size_t i = 0; i < h; ++i) out[i] = first + step * double(i);
  return out;
}

std::vector<double> NcBuilder::lons(size_t w, double first, double step) { return lats(w, first, step); }

}  // namespace climseg::test
