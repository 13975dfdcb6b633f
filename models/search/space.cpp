// Search space: parsing, seeded sampling, grid enumeration.
#include "models/search/space.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace climseg::search {
using nlohmann::json;

namespace {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a: a stable hash of a key name, so adding a parameter leaves the others' draws unchanged.
uint64_t name_hash(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

const char* kind_name(Parameter::Kind k) {
  switch (k) {
    case Parameter::Kind::choices:
      return "choices";
    case Parameter::Kind::uniform:
      return "uniform";
    case Parameter::Kind::log_uniform:
      return "log_uniform";
    case Parameter::Kind::integer:
      return "int";
    default:
      return "fixed";
  }
}

// The keys the search itself sets for every trial.
bool owned_by_search(const std::string& key) {
  return key == "checkpoint_dir" || key == "resume" || key == "max_steps";
}

}  // namespace

double unit_hash(uint64_t seed, uint64_t a, uint64_t b) {
  const uint64_t h = splitmix(splitmix(splitmix(seed) ^ a) ^ b);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

json Parameter::at(double u) const {
  u = std::clamp(u, 0.0, std::nextafter(1.0, 0.0));
  switch (kind) {
    case Kind::fixed:
      return value;
    case Kind::choices:
      return values[static_cast<size_t>(u * static_cast<double>(values.size()))];
    case Kind::uniform:
      return low + u * (high - low);
    case Kind::log_uniform:
      return std::exp(std::log(low) + u * (std::log(high) - std::log(low)));
    case Kind::integer: {
      const double span = high - low + 1;
      return static_cast<int64_t>(low + std::floor(u * span));
    }
  }
  return value;
}

std::vector<json> Parameter::grid_values() const {
  if (kind == Kind::fixed) return {value};
  if (kind == Kind::choices) return values;
  if (points < 1)
    fail_usage(
        "search space: '{}' is a range; the grid strategy needs \"points\": n (values to try) or a list of "
        "choices",
        key);
  std::vector<json> out;
  for (int64_t i = 0; i < points; ++i) {
    const double t = points == 1 ? 0.5 : static_cast<double>(i) / static_cast<double>(points - 1);
    if (kind == Kind::uniform) out.push_back(low + t * (high - low));
    if (kind == Kind::log_uniform) out.push_back(std::exp(std::log(low) + t * (std::log(high) - std::log(low))));
    if (kind == Kind::integer) {
      json v = static_cast<int64_t>(std::llround(low + t * (high - low)));
      if (out.empty() || out.back() != v) out.push_back(v);
    }
  }
  return out;
}

json Parameter::to_json() const {
  if (kind == Kind::fixed) return value;
  json j;
  if (kind == Kind::choices)
    j["choices"] = values;
  else if (kind == Kind::integer)
    j["int"] = {static_cast<int64_t>(low), static_cast<int64_t>(high)};
  else
    j[kind_name(kind)] = {low, high};
  if (points > 0) j["points"] = points;
  return j;
}

SearchSpace SearchSpace::from_json(const json& j) {
  if (!j.is_object()) fail_usage("search config: 'space' must be an object of training keys, got {}", j.dump());
  SearchSpace s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    Parameter p;
    p.key = it.key();
    if (p.key.empty() || p.key.front() == '.' || p.key.back() == '.')
      fail_usage("search space: '{}' is not a dotted training key", p.key);
    if (owned_by_search(p.key))
      fail_usage("search space: '{}' is set by the search for every trial and cannot be searched", p.key);
    const json& v = it.value();
    int kinds = 0;
    if (v.is_object())
      for (const char* k : {"choices", "uniform", "log_uniform", "int"}) kinds += v.contains(k) ? 1 : 0;
    if (kinds == 0) {
      p.kind = Parameter::Kind::fixed;
      p.value = v;
      s.params_.push_back(std::move(p));
      continue;
    }
    if (kinds > 1) fail_usage("search space: '{}' has more than one of choices/uniform/log_uniform/int", p.key);
    for (auto f = v.begin(); f != v.end(); ++f)
      if (f.key() != "choices" && f.key() != "uniform" && f.key() != "log_uniform" && f.key() != "int" &&
          f.key() != "points")
        fail_usage("search space: '{}' has an unknown field '{}' (known: choices, uniform, log_uniform, int, points)",
                   p.key, f.key());
    if (v.contains("points")) {
      if (!v["points"].is_number_integer() || v["points"].get<int64_t>() < 1)
        fail_usage("search space: '{}.points' must be a positive integer, got {}", p.key, v["points"].dump());
      p.points = v["points"].get<int64_t>();
    }
    if (v.contains("choices")) {
      p.kind = Parameter::Kind::choices;
      if (!v["choices"].is_array() || v["choices"].empty())
        fail_usage("search space: '{}.choices' must be a non-empty list, got {}", p.key, v["choices"].dump());
      for (const json& c : v["choices"]) p.values.push_back(c);
    } else {
      const char* name = v.contains("uniform") ? "uniform" : v.contains("log_uniform") ? "log_uniform" : "int";
      p.kind = v.contains("uniform")       ? Parameter::Kind::uniform
               : v.contains("log_uniform") ? Parameter::Kind::log_uniform
                                           : Parameter::Kind::integer;
      const json& r = v[name];
      if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number())
        fail_usage("search space: '{}.{}' must be [low, high], got {}", p.key, name, r.dump());
      p.low = r[0].get<double>();
      p.high = r[1].get<double>();
      if (!(p.low <= p.high)) fail_usage("search space: '{}.{}' needs low <= high, got {}", p.key, name, r.dump());
      if (p.kind == Parameter::Kind::log_uniform && !(p.low > 0))
        fail_usage("search space: '{}.log_uniform' needs a positive range, got {}", p.key, r.dump());
      if (p.kind == Parameter::Kind::integer && (!r[0].is_number_integer() || !r[1].is_number_integer()))
        fail_usage("search space: '{}.int' needs integer bounds, got {}", p.key, r.dump());
    }
    s.params_.push_back(std::move(p));
  }
  return s;
}

json SearchSpace::to_json() const {
  json j = json::object();
  for (const Parameter& p : params_) j[p.key] = p.to_json();
  return j;
}

std::vector<std::string> SearchSpace::searched_keys() const {
  std::vector<std::string> out;
  for (const Parameter& p : params_)
    if (p.searched()) out.push_back(p.key);
  return out;
}

json SearchSpace::sample(uint64_t seed, int64_t trial) const {
  json v = json::object();
  for (const Parameter& p : params_) v[p.key] = p.at(unit_hash(seed, static_cast<uint64_t>(trial), name_hash(p.key)));
  return v;
}

std::vector<json> SearchSpace::grid() const {
  std::vector<json> out = {json::object()};
  for (const Parameter& p : params_) {
    std::vector<json> next;
    const std::vector<json> vals = p.grid_values();
    for (const json& partial : out)
      for (const json& v : vals) {
        json c = partial;
        c[p.key] = v;
        next.push_back(std::move(c));
      }
    out = std::move(next);
  }
  return out;
}

void set_dotted(json& doc, const std::string& key, const json& value) {
  json* node = &doc;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) fail_usage("search space: '{}' is not a dotted training key", key);
    if (!node->is_object()) fail_usage("search space: '{}' goes through a value that is not an object", key);
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    node = &(*node)[part];
    if (node->is_null()) *node = json::object();
    start = dot + 1;
  }
}

void apply_values(json& doc, const json& values) {
  for (auto it = values.begin(); it != values.end(); ++it) set_dotted(doc, it.key(), it.value());
}

}  // namespace climseg::search
