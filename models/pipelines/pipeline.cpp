// Shared pieces of the pipelines.
#include "models/pipelines/pipeline.hpp"

#include <cmath>
#include <cstdint>

namespace climseg::pipelines {

namespace {

// A value as the flag's text: strings as they are, whole numbers without ".0", lists joined by
// commas ("1,50,99").
std::string flag_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float() && std::trunc(v.get<double>()) == v.get<double>() && std::abs(v.get<double>()) < 1e15)
    return std::to_string(static_cast<int64_t>(v.get<double>()));
  if (v.is_array()) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ",") + flag_text(x);
    return out;
  }
  return v.dump();
}

}  // namespace

nlohmann::json alias_values(const nlohmann::json& config, const std::vector<config::Alias>& aliases,
                            const std::set<std::string>& skip) {
  nlohmann::json out = nlohmann::json::object();
  for (const config::Alias& a : aliases) {
    if (skip.count(a.key)) continue;
    const nlohmann::json* v = config::find(config, a.key);
    if (v == nullptr) continue;
    // The long flag: the last name of "-i,--in".
    const std::string flag = a.flags.substr(a.flags.rfind(',') == std::string::npos ? 0 : a.flags.rfind(',') + 1);
    if (a.kind == config::Alias::Kind::flag)
      out[flag] = v->is_boolean() && v->get<bool>() ? 1 : 0;
    else if (a.kind == config::Alias::Kind::flag_off)
      out[flag] = v->is_boolean() && !v->get<bool>() ? 1 : 0;
    else
      out[flag] = flag_text(*v);
  }
  return out;
}

}  // namespace climseg::pipelines
