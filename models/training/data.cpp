// From archive samples to network inputs.
#include "models/training/data.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.hpp"
#include "readers/partition.hpp"

namespace climseg::training {
using nlohmann::json;

Normalizer Normalizer::from_stats(const io::ChannelStats& stats, const std::vector<std::string>& channels,
                                  Normalization kind) {
  Normalizer n;
  n.kind = kind;
  n.channels = channels;
  for (const std::string& c : channels) {
    if (kind == Normalization::none) {
      n.shift.push_back(0.0f);
      n.scale.push_back(1.0f);
      continue;
    }
    const io::ChannelStat& st = stats.at(c);
    double shift = kind == Normalization::zscore ? st.mean : st.min;
    double scale = kind == Normalization::zscore ? st.std : st.max - st.min;
    if (!(scale > 0) || !std::isfinite(scale) || !std::isfinite(shift))
      fail("normalization: channel {} has no spread in the statistics ({} = {}); it cannot be normalised", c,
           kind == Normalization::zscore ? "std" : "max - min", scale);
    n.shift.push_back(static_cast<float>(shift));
    n.scale.push_back(static_cast<float>(scale));
  }
  return n;
}

json Normalizer::to_json() const {
  json chans = json::object();
  for (size_t i = 0; i < channels.size(); ++i) {
    if (kind == Normalization::minmax)
      chans[channels[i]] = {{"min", shift[i]}, {"max", shift[i] + scale[i]}};
    else
      chans[channels[i]] = {{"mean", shift[i]}, {"std", scale[i]}};
  }
  return {{"kind", config::to_string(kind)}, {"channels", chans}};
}

Normalizer Normalizer::from_json(const json& j, const std::vector<std::string>& channels, const std::string& source) {
  Normalizer n;
  // climseg's {"kind", "channels": {...}} or ClimateNet's flat {"TMQ": {"mean", "std"}, ...}.
  const json* table = &j;
  if (j.contains("channels") && j.at("channels").is_object()) {
    table = &j.at("channels");
    const std::string kind = j.value("kind", std::string("zscore"));
    const auto k = config::find_enum<Normalization>(kind);
    if (!k) fail("{}: normalization kind '{}' is not one of {}", source, kind, config::choices<Normalization>());
    n.kind = *k;
  }
  n.channels = channels;
  for (const std::string& c : channels) {
    if (n.kind == Normalization::none) {
      n.shift.push_back(0.0f);
      n.scale.push_back(1.0f);
      continue;
    }
    if (!table->contains(c)) fail("{}: normalization has no entry for channel {}", source, c);
    const json& e = table->at(c);
    try {
      if (n.kind == Normalization::minmax) {
        n.shift.push_back(e.at("min").get<float>());
        n.scale.push_back(e.at("max").get<float>() - n.shift.back());
      } else {
        n.shift.push_back(e.at("mean").get<float>());
        n.scale.push_back(e.at("std").get<float>());
      }
    } catch (const json::exception&) {
      fail("{}: normalization entry of {} is malformed: {}", source, c, e.dump());
    }
    if (!(n.scale.back() > 0)) fail("{}: normalization of {} has a non-positive spread", source, c);
  }
  return n;
}

std::vector<bool> zonal_wind_channels(const std::vector<std::string>& names) {
  std::vector<bool> out;
  for (const std::string& n : names) out.push_back(!n.empty() && (n[0] == 'U' || n[0] == 'u'));
  return out;
}

int64_t round_up(int64_t n, int64_t m) { return m <= 1 ? n : (n + m - 1) / m * m; }

void fill_input(const io::Sample& s, const Normalizer& norm, int64_t Hp, int64_t Wp, const Augment& aug,
                const std::vector<bool>& negate_on_flip, int64_t classes, float* x, int32_t* y) {
  const int64_t C = s.channels_count(), H = s.grid.height(), W = s.grid.width();
  if (C != static_cast<int64_t>(norm.shift.size()))
    fail("{}: sample has {} channels, the model expects {}", s.file, C, norm.shift.size());
  const bool has_valid = s.valid.numel() > 0;
  // Destination column j reads source column src(j): mirror first, then roll east by aug.roll.
  auto src_col = [&](int64_t j) {
    int64_t c = ((j - aug.roll) % W + W) % W;
    return aug.flip ? W - 1 - c : c;
  };
  auto src_row = [&](int64_t i) { return i < H ? i : std::max<int64_t>(0, 2 * H - 2 - i); };
  // The source column of every destination column, once (two integer divisions a value were a third
  // of predict's time beyond the forward at 768x1152); without augmentation the first W columns are
  // the row itself, a loop the compiler vectorises. Same arithmetic either way: same values.
  std::vector<int64_t> cols(static_cast<size_t>(Wp));
  for (int64_t j = 0; j < Wp; ++j) cols[static_cast<size_t>(j)] = src_col(j % W);
  const bool straight = !aug.flip && aug.roll % W == 0;
  const int64_t* col = cols.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t i = 0; i < Hp; ++i) {
      const float shift = norm.shift[static_cast<size_t>(c)];
      const float inv = 1.0f / norm.scale[static_cast<size_t>(c)];
      const float sign = aug.flip && negate_on_flip[static_cast<size_t>(c)] ? -1.0f : 1.0f;
      const int64_t si = src_row(i);
      const float* row = s.data.data() + (c * H + si) * W;
      const float* vrow = has_valid ? s.valid.data() + (c * H + si) * W : nullptr;
      float* out = x + (c * Hp + i) * Wp;
      int64_t j = 0;
      if (straight && vrow == nullptr) {
        for (; j < W; ++j) out[j] = (sign * row[j] - shift) * inv;
      } else if (straight) {
        for (; j < W; ++j) out[j] = vrow[j] > 0.5f ? (sign * row[j] - shift) * inv : 0.0f;
      }
      for (; j < Wp; ++j) {
        const int64_t sj = col[j];
        const bool ok = vrow == nullptr || vrow[sj] > 0.5f;
        out[j] = ok ? (sign * row[sj] - shift) * inv : 0.0f;
      }
    }
  }
  if (y == nullptr) return;
  const bool has_labels = s.labels.numel() == H * W;
  for (int64_t i = 0; i < Hp; ++i) {
    for (int64_t j = 0; j < Wp; ++j) {
      int32_t label = kIgnoreLabel;
      if (has_labels && i < H && j < W) {
        const float v = s.labels[i * W + src_col(j)];
        if (std::isfinite(v) && v >= 0 && v < float(classes)) label = static_cast<int32_t>(std::lround(v));
      }
      y[i * Wp + j] = label;
    }
  }
}

int64_t check_label_classes(const io::Sample& s, const std::vector<std::string>& classes, bool ignore) {
  const auto K = static_cast<float>(classes.size());
  int64_t foreign = 0;
  for (float v : s.labels) foreign += (v >= K || (v >= 0 && v != std::floor(v)));
  if (foreign == 0 || ignore) return foreign;
  std::map<float, int64_t> by_value;
  for (float v : s.labels)
    if (v >= K || (v >= 0 && v != std::floor(v))) ++by_value[v];
  std::vector<std::string> found, model;
  for (const auto& [v, n] : by_value) found.push_back(fmt::format("class {:g} at {} cells", v, n));
  for (size_t k = 0; k < classes.size(); ++k) model.push_back(fmt::format("{} {}", k, classes[k]));
  fail(
      "{}: {}: the labels hold {}, which the model does not have (its classes: {}); set data.unknown_classes to "
      "ignore to leave those cells out of the loss, or give the model those classes (model.classes)",
      s.file, s.time_iso.empty() ? fmt::format("step {}", s.time_index) : s.time_iso, fmt::join(found, ", "),
      fmt::join(model, ", "));
}

std::vector<double> class_frequencies(const io::Archive& archive, const std::vector<int64_t>& indices,
                                      const std::vector<std::string>& class_names, int64_t max_samples,
                                      const Comm& comm, bool ignore_unknown) {
  const auto classes = static_cast<int64_t>(class_names.size());
  std::vector<double> counts(static_cast<size_t>(classes), 0.0);
  const int64_t n = static_cast<int64_t>(indices.size());
  const int64_t take = std::min(n, max_samples);
  std::vector<int64_t> chosen;
  for (int64_t k = 0; k < take; ++k) chosen.push_back(indices[static_cast<size_t>(k * n / std::max<int64_t>(1, take))]);
  io::Block mine = io::block_partition(take, comm.rank(), comm.size());
  for (int64_t k = mine.begin; k < mine.end; ++k) {
    io::Sample s = archive.load(chosen[static_cast<size_t>(k)]);
    if (s.labels.numel() == 0) fail("{}: no labels in this sample; training needs labels", s.file);
    check_label_classes(s, class_names, ignore_unknown);
    for (float v : s.labels)
      if (std::isfinite(v) && v >= 0 && v < float(classes)) counts[static_cast<size_t>(std::lround(v))] += 1;
  }
  comm.allreduce_sum(counts.data(), classes);
  double total = 0;
  for (double c : counts) total += c;
  if (total <= 0) fail("no labelled pixels in the training samples");
  for (double& c : counts) c /= total;
  return counts;
}

std::vector<float> class_weights(const json& rule, const std::vector<double>& freq) {
  const size_t K = freq.size();
  std::vector<float> w(K, 1.0f);
  if (rule.is_array()) {
    if (rule.size() != K) fail_usage("loss.class_weights has {} values for {} classes", rule.size(), K);
    for (size_t k = 0; k < K; ++k) w[k] = rule[k].get<float>();
    return w;
  }
  const std::string name = rule.get<std::string>();
  if (name == "none") return w;
  double norm = 0;
  for (size_t k = 0; k < K; ++k) {
    double f = freq[k];
    double v = f > 0 ? (name == "inverse" ? 1.0 / f : std::pow(f, -0.125)) : 0.0;
    w[k] = static_cast<float>(v);
    norm += f * v;
  }
  if (norm > 0)
    for (float& v : w) v = static_cast<float>(v / norm);
  return w;
}

uint64_t mix_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (uint64_t v : {a, b, c, d}) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    // splitmix64 finaliser
    h += 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
  }
  return h;
}

std::vector<int64_t> epoch_order(const std::vector<int64_t>& items, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> out = items;
  for (size_t i = out.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(mix_hash(seed, static_cast<uint64_t>(epoch), i) % i);
    std::swap(out[i - 1], out[j]);
  }
  return out;
}

void split_by_time(int64_t n, double fraction, std::vector<int64_t>& train, std::vector<int64_t>& val) {
  train.clear();
  val.clear();
  int64_t nval = fraction > 0 ? static_cast<int64_t>(std::ceil(fraction * double(n))) : 0;
  nval = std::min(nval, n - 1);
  for (int64_t i = 0; i < n; ++i) (i < n - nval ? train : val).push_back(i);
}

void split_by_time_range(const io::Archive& archive, const std::string& start, const std::string& end,
                         std::vector<int64_t>& train, std::vector<int64_t>& val) {
  train.clear();
  val.clear();
  const std::string where = archive.size() > 0 ? archive.info(0).file : std::string("the archive");
  if (archive.size() == 0) fail("data.val_time: the archive has no samples");
  if (archive.calendar().empty()) fail("{}: data.val_time needs decodable CF times; the archive has none", where);
  const io::Calendar cal = io::parse_calendar(archive.calendar());
  const io::DateTime a = io::parse_datetime(start), b = io::parse_datetime(end);
  io::check_date(cal, a, "data.val_time start");
  io::check_date(cal, b, "data.val_time end");
  for (int64_t i = 0; i < archive.size(); ++i) {
    const io::SampleInfo s = archive.info(i);
    if (!s.has_date) fail("{}: step {} has no decodable time for data.val_time", s.file, s.time_index);
    (a <= s.date && s.date < b ? val : train).push_back(i);
  }
  if (val.empty())
    fail("data.val_time [{}, {}) selects no sample of the archive ({} samples, {} to {})", start, end, archive.size(),
         archive.info(0).date.iso(), archive.info(archive.size() - 1).date.iso());
  if (train.empty())
    fail("data.val_time [{}, {}) selects every sample of the archive ({}); nothing is left to train on", start, end,
         archive.size());
}

}  // namespace climseg::training
