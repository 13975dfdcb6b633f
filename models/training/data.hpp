// From archive samples to network inputs: normalization, padding to the network's size multiple
// (periodic in longitude, mirrored in latitude), augmentation by rotation around the globe (and an
// optional east-west mirror), labels as int32 with an ignore index, class weights from label
// frequencies, deterministic shuffling and sharding over ranks.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/enum_names.hpp"
#include "readers/archive.hpp"
#include "readers/sample.hpp"
#include "readers/stats.hpp"

namespace climseg::training {

inline constexpr int32_t kIgnoreLabel = -100;

enum class Normalization { zscore, minmax, none };

// x' = (x - shift) / scale per channel ("zscore": mean/std, "minmax": min/(max-min), "none").
struct Normalizer {
  Normalization kind = Normalization::zscore;
  std::vector<std::string> channels;
  std::vector<float> shift, scale;

  // Throws Error naming a channel missing from the stats, or with zero spread.
  static Normalizer from_stats(const io::ChannelStats& stats, const std::vector<std::string>& channels,
                               Normalization kind);
  // {"kind": ..., "channels": {"TMQ": {"mean": m, "std": s} or {"min":, "max":}}}; the zscore form
  // is also what ClimateNet's `normalization` attribute holds.
  nlohmann::json to_json() const;
  static Normalizer from_json(const nlohmann::json& j, const std::vector<std::string>& channels,
                              const std::string& source);
};

struct Augment {
  int64_t roll = 0;   // columns to rotate eastward (periodic grids)
  bool flip = false;  // east-west mirror
};

// Writes one sample into x (C, Hp, Wp) and, when y is not null, its labels into y (Hp, Wp).
// Invalid inputs become 0 (the mean after z-scoring); pixels beyond the sample (padding) and labels
// outside [0, classes) are kIgnoreLabel. Rows beyond H mirror the last rows; columns beyond W wrap.
// `negate_on_flip[c]` marks zonal-wind channels, whose sign changes under an east-west mirror.
void fill_input(const io::Sample& s, const Normalizer& norm, int64_t Hp, int64_t Wp, const Augment& aug,
                const std::vector<bool>& negate_on_flip, int64_t classes, float* x, int32_t* y);

// Zonal-wind channels (names starting with U or u, e.g. U850, UBOT): they change sign when mirrored.
std::vector<bool> zonal_wind_channels(const std::vector<std::string>& names);

// The most probable class of each cell of the unpadded (H, W) corner of per-class scores
// (K, Hp, Wp), ties to the lower class; into out (H*W). Predict, evaluate and validation share it.
template <typename T>
void argmax_classes(const float* scores, int64_t K, int64_t Hp, int64_t Wp, int64_t H, int64_t W, T* out) {
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) {
      int64_t best = 0;
      for (int64_t c = 1; c < K; ++c)
        if (scores[(c * Hp + i) * Wp + j] > scores[(best * Hp + i) * Wp + j]) best = c;
      out[i * W + j] = static_cast<T>(best);
    }
}
// The unpadded (H, W) corner of padded (Hp, Wp) labels, into out (H*W).
inline void crop_labels(const int32_t* labels, int64_t Wp, int64_t H, int64_t W, int32_t* out) {
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) out[i * W + j] = labels[i * Wp + j];
}

// Checks that a sample's labels hold only classes of the model: integers in [0, classes) or
// negative (fill, -1). Otherwise throws Error naming the sample, each foreign class and its cell
// count, the model's classes and data.unknown_classes; with `ignore` it only returns the count of
// foreign cells (fill_input leaves them out of the loss).
int64_t check_label_classes(const io::Sample& s, const std::vector<std::string>& classes, bool ignore);

// The smallest multiple of m that is >= n.
int64_t round_up(int64_t n, int64_t m);

// Fraction of labelled pixels in each class over up to max_samples samples spread over `indices`
// (summed over the ranks of comm, each reading its share).
// Labels are checked with check_label_classes (`class_names` the model's; foreign ones refused
// unless `ignore_unknown`).
std::vector<double> class_frequencies(const io::Archive& archive, const std::vector<int64_t>& indices,
                                      const std::vector<std::string>& class_names, int64_t max_samples,
                                      const Comm& comm, bool ignore_unknown = false);
// Class weights for a loss: "none" (ones), "frequency^-0.125" (DeepCAM), "inverse", or a list. Named
// rules are normalised so that the frequency-weighted mean weight is 1; absent classes get weight 0.
std::vector<float> class_weights(const nlohmann::json& rule, const std::vector<double>& frequencies);

// A permutation of `items` that depends only on (seed, epoch).
std::vector<int64_t> epoch_order(const std::vector<int64_t>& items, uint64_t seed, int64_t epoch);
// A 64-bit hash of a few integers (splitmix64 chained), for per-sample random choices.
uint64_t mix_hash(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0);

// Time-ordered split: the last ceil(fraction * n) samples validate (no leakage across time).
void split_by_time(int64_t n, double fraction, std::vector<int64_t>& train, std::vector<int64_t>& val);
// Split by a time range: samples whose decoded time t has start <= t < end (ISO/CF dates in the
// archive's calendar; start inclusive, end exclusive) validate, the others train. Throws Error when
// a sample has no decodable time, a date does not exist in the calendar, or the range selects no
// sample or every sample.
void split_by_time_range(const io::Archive& archive, const std::string& start, const std::string& end,
                         std::vector<int64_t>& train, std::vector<int64_t>& val);

}  // namespace climseg::training

template <>
struct climseg::config::EnumTable<climseg::training::Normalization> {
  static constexpr std::pair<const char*, training::Normalization> names[] = {
      {"zscore", training::Normalization::zscore},
      {"minmax", training::Normalization::minmax},
      {"none", training::Normalization::none}};
};
