// Channel statistics: one-pass moments with pairwise merges, histogram percentiles, the stats file.
#include "readers/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace climseg::io {
using nlohmann::json;

int ChannelStats::index(const std::string& name) const {
  for (size_t k = 0; k < channels.size(); ++k)
    if (channels[k].name == name) return static_cast<int>(k);
  return -1;
}

const ChannelStat& ChannelStats::at(const std::string& name) const {
  int k = index(name);
  if (k < 0) {
    std::vector<std::string> have;
    for (const ChannelStat& c : channels) have.push_back(c.name);
    fail("statistics have no channel '{}' (they have: {})", name, fmt::join(have, ", "));
  }
  return channels[static_cast<size_t>(k)];
}

std::pair<std::vector<float>, std::vector<float>> ChannelStats::mean_std(const std::vector<std::string>& names) const {
  std::vector<float> m, s;
  for (const std::string& n : names) {
    const ChannelStat& c = at(n);
    m.push_back(static_cast<float>(c.mean));
    s.push_back(static_cast<float>(c.std));
  }
  return {m, s};
}

json to_json(const ChannelStats& stats) {
  json j;
  j["format"] = "climseg-stats";
  j["version"] = 1;
  j["area_weighted"] = stats.area_weighted;
  j["samples"] = stats.samples;
  j["provenance"] = stats.provenance;
  json chans = json::array();
  for (const ChannelStat& c : stats.channels) {
    json x = {{"name", c.name}, {"units", c.units}, {"count", c.count}, {"mean", c.mean},
              {"std", c.std},   {"min", c.min},     {"max", c.max}};
    if (!c.percentiles.empty()) {
      json p = json::object();
      for (auto& [q, v] : c.percentiles) p[fmt::format("{:g}", q)] = v;
      x["percentiles"] = p;
    }
    chans.push_back(std::move(x));
  }
  j["channels"] = chans;
  return j;
}

ChannelStats stats_from_json(const json& j, const std::string& source) {
  ChannelStats s;
  try {
    if (!j.is_object()) fail("{}: statistics must be a JSON object", source);
    if (j.contains("format")) {
      if (j["format"] != "climseg-stats") fail("{}: format is '{}', not climseg-stats", source, j["format"].dump());
      if (j.value("version", 0) != 1) fail("{}: unsupported stats version {}", source, j.value("version", 0));
      s.area_weighted = j.value("area_weighted", false);
      s.samples = j.value("samples", int64_t{0});
      if (j.contains("provenance")) s.provenance = j["provenance"];
      for (const json& c : j.at("channels")) {
        ChannelStat x;
        x.name = c.at("name");
        x.units = c.value("units", "");
        x.count = c.at("count");
        x.mean = c.at("mean");
        x.std = c.at("std");
        x.min = c.at("min");
        x.max = c.at("max");
        if (c.contains("percentiles"))
          for (auto& [k, v] : c["percentiles"].items()) x.percentiles.emplace_back(std::stod(k), v.get<double>());
        std::sort(x.percentiles.begin(), x.percentiles.end());
        s.channels.push_back(std::move(x));
      }
    } else {
      // ClimateNet: {"TMQ": {"mean": m, "std": s}, ...}
      for (auto& [name, v] : j.items()) {
        ChannelStat x;
        x.name = name;
        x.mean = v.at("mean");
        x.std = v.at("std");
        x.min = v.value("min", NAN);
        x.max = v.value("max", NAN);
        s.channels.push_back(std::move(x));
      }
    }
  } catch (const json::exception& e) {
    fail("{}: malformed statistics: {}", source, e.what());
  } catch (const std::invalid_argument&) {
    fail("{}: malformed statistics: a percentile key is not a number", source);
  }
  if (s.channels.empty()) fail("{}: statistics list no channels", source);
  for (const ChannelStat& c : s.channels)
    if (!std::isfinite(c.mean) || !std::isfinite(c.std) || c.std < 0)
      fail("{}: channel {} has mean {} and std {}: not usable for normalization", source, c.name, c.mean, c.std);
  return s;
}

ChannelStats load_stats(const std::filesystem::path& path) {
  std::string text = read_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
  return stats_from_json(j, path.string());
}

void save_stats(const std::filesystem::path& path, const ChannelStats& stats) {
  write_file_atomically(path, to_json(stats).dump(2) + "\n");
}

void Moments::merge(const Moments& b) {
  if (b.weight <= 0) {
    count += b.count;
    return;
  }
  if (weight <= 0) {
    const int64_t c = count;
    *this = b;
    count += c;
    return;
  }
  const double w = weight + b.weight;
  const double delta = b.mean - mean;
  mean += delta * (b.weight / w);
  m2 += b.m2 + delta * delta * (weight * b.weight / w);
  weight = w;
  count += b.count;
  min = std::min(min, b.min);
  max = std::max(max, b.max);
}

StatsAccumulator::StatsAccumulator(std::vector<std::string> names, std::vector<std::string> units,
                                   std::vector<double> row_weights)
    : names_(std::move(names)),
      units_(std::move(units)),
      row_weights_(std::move(row_weights)),
      moments_(names_.size()) {
  units_.resize(names_.size());
}

void StatsAccumulator::add(const Sample& s) {
  const int64_t C = s.channels_count(), H = s.grid.height(), W = s.grid.width();
  if (C != static_cast<int64_t>(names_.size())) fail("stats: sample has {} channels, expected {}", C, names_.size());
  if (!row_weights_.empty() && static_cast<int64_t>(row_weights_.size()) != H)
    fail("stats: {} row weights for {} rows", row_weights_.size(), H);
  const bool masked = s.valid.numel() > 0;
  std::vector<Moments> block(static_cast<size_t>(C));
  // Channels are independent: each block's two passes (mean, then squared deviations) are exact
  // and in a fixed order, so the result does not depend on the thread count.
#pragma omp parallel for schedule(dynamic, 1) if (C * H * W >= (1 << 18))
  for (int64_t c = 0; c < C; ++c) {
    const float* x = s.data.data() + c * H * W;
    const float* v = masked ? s.valid.data() + c * H * W : nullptr;
    Moments m;
    double sum = 0.0;
    for (int64_t i = 0; i < H; ++i) {
      const double w = row_weights_.empty() ? 1.0 : row_weights_[static_cast<size_t>(i)];
      double row = 0.0, rw = 0.0;
      int64_t n = 0;
      for (int64_t j = 0; j < W; ++j) {
        const int64_t k = i * W + j;
        if (v && v[k] == 0.0f) continue;
        const double val = x[k];
        row += val;
        rw += 1.0;
        ++n;
        m.min = std::min(m.min, val);
        m.max = std::max(m.max, val);
      }
      sum += w * row;
      m.weight += w * rw;
      m.count += n;
    }
    if (m.weight > 0) {
      m.mean = sum / m.weight;
      double m2 = 0.0;
      for (int64_t i = 0; i < H; ++i) {
        const double w = row_weights_.empty() ? 1.0 : row_weights_[static_cast<size_t>(i)];
        double row = 0.0;
        for (int64_t j = 0; j < W; ++j) {
          const int64_t k = i * W + j;
          if (v && v[k] == 0.0f) continue;
          const double d = x[k] - m.mean;
          row += d * d;
        }
        m2 += w * row;
      }
      m.m2 = m2;
    }
    block[static_cast<size_t>(c)] = m;
  }
  for (int64_t c = 0; c < C; ++c) moments_[static_cast<size_t>(c)].merge(block[static_cast<size_t>(c)]);
  ++samples_;
}

void StatsAccumulator::merge(const StatsAccumulator& other) {
  for (size_t c = 0; c < moments_.size(); ++c) moments_[c].merge(other.moments_[c]);
  samples_ += other.samples_;
}

void StatsAccumulator::allreduce(const Comm& comm) {
  if (comm.size() == 1) return;
  json mine = json::array();
  for (const Moments& m : moments_)
    mine.push_back(
        {m.count, m.weight, m.mean, m.m2, std::isfinite(m.min) ? m.min : 0.0, std::isfinite(m.max) ? m.max : 0.0});
  json packet = {{"samples", samples_}, {"moments", mine}};
  // Doubles survive JSON exactly (shortest round-trip representation).
  std::vector<std::string> all = comm.allgather(packet.dump());
  std::vector<Moments> merged(moments_.size());
  int64_t samples = 0;
  for (const std::string& part : all) {
    json p = json::parse(part);
    samples += p["samples"].get<int64_t>();
    for (size_t c = 0; c < merged.size(); ++c) {
      const json& x = p["moments"][c];
      Moments m;
      m.count = x[0];
      m.weight = x[1];
      m.mean = x[2];
      m.m2 = x[3];
      if (m.count > 0) {
        m.min = x[4];
        m.max = x[5];
      }
      merged[c].merge(m);
    }
  }
  moments_ = std::move(merged);
  samples_ = samples;
}

ChannelStats StatsAccumulator::result() const {
  ChannelStats out;
  out.area_weighted = !row_weights_.empty();
  out.samples = samples_;
  for (size_t c = 0; c < names_.size(); ++c) {
    const Moments& m = moments_[c];
    ChannelStat s;
    s.name = names_[c];
    s.units = units_[c];
    s.count = m.count;
    s.mean = m.mean;
    s.std = m.weight > 0 ? std::sqrt(m.m2 / m.weight) : 0.0;
    s.min = m.count > 0 ? m.min : 0.0;
    s.max = m.count > 0 ? m.max : 0.0;
    out.channels.push_back(std::move(s));
  }
  return out;
}

PercentileAccumulator::PercentileAccumulator(const std::vector<Moments>& moments, std::vector<double> row_weights,
                                             int bins)
    : row_weights_(std::move(row_weights)), bins_(std::max(1, bins)) {
  for (const Moments& m : moments) {
    lo_.push_back(m.count > 0 ? m.min : 0.0);
    hi_.push_back(m.count > 0 ? m.max : 0.0);
  }
  hist_.assign(moments.size() * static_cast<size_t>(bins_), 0.0);
}

void PercentileAccumulator::add(const Sample& s) {
  const int64_t C = s.channels_count(), H = s.grid.height(), W = s.grid.width();
  const bool masked = s.valid.numel() > 0;
#pragma omp parallel for schedule(dynamic, 1) if (C * H * W >= (1 << 18))
  for (int64_t c = 0; c < C; ++c) {
    const float* x = s.data.data() + c * H * W;
    const float* v = masked ? s.valid.data() + c * H * W : nullptr;
    double* h = hist_.data() + c * bins_;
    const double lo = lo_[static_cast<size_t>(c)], span = hi_[static_cast<size_t>(c)] - lo;
    const double scale = span > 0 ? bins_ / span : 0.0;
    for (int64_t i = 0; i < H; ++i) {
      const double w = row_weights_.empty() ? 1.0 : row_weights_[static_cast<size_t>(i)];
      for (int64_t j = 0; j < W; ++j) {
        const int64_t k = i * W + j;
        if (v && v[k] == 0.0f) continue;
        auto b = static_cast<int64_t>((x[k] - lo) * scale);
        h[std::clamp<int64_t>(b, 0, bins_ - 1)] += w;
      }
    }
  }
}

void PercentileAccumulator::allreduce(const Comm& comm) {
  comm.allreduce_sum(hist_.data(), static_cast<int64_t>(hist_.size()));
}

std::vector<double> PercentileAccumulator::values(int64_t c, const std::vector<double>& p) const {
  const double* h = hist_.data() + c * bins_;
  double total = 0.0;
  for (int b = 0; b < bins_; ++b) total += h[b];
  const double lo = lo_[static_cast<size_t>(c)], width = (hi_[static_cast<size_t>(c)] - lo) / bins_;
  std::vector<double> out;
  for (double q : p) {
    if (total <= 0) {
      out.push_back(NAN);
      continue;
    }
    const double target = q / 100.0 * total;
    double cum = 0.0;
    int b = 0;
    while (b < bins_ - 1 && cum + h[b] < target) cum += h[b++];
    const double frac = h[b] > 0 ? std::clamp((target - cum) / h[b], 0.0, 1.0) : 0.0;
    out.push_back(lo + (b + frac) * width);
  }
  return out;
}

std::vector<double> parse_percentiles(const std::string& list) {
  std::vector<double> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      double v = std::stod(item, &used);
      while (used < item.size() && std::isspace(static_cast<unsigned char>(item[used]))) ++used;
      if (used != item.size() || v < 0 || v > 100) throw std::invalid_argument("range");
      out.push_back(v);
    } catch (const std::exception&) {
      fail_usage("percentile '{}' is not a number in [0, 100] (e.g. --percentiles 1,50,99)", item);
    }
  }
  if (out.empty()) fail_usage("--percentiles needs at least one value");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace climseg::io
