// The search space of `climseg search`: training keys (dotted, as in --key overrides) that are fixed,
// chosen from a list, or drawn from a range (uniform, log-uniform, integer); seeded sampling that
// depends only on (seed, trial), and the grid of all combinations.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace climseg::search {

struct Parameter {
  enum class Kind { fixed, choices, uniform, log_uniform, integer };
  std::string key;  // dotted training key: "optimizer.lr", "model.N", "batch_size"
  Kind kind = Kind::fixed;
  nlohmann::json value;                // fixed
  std::vector<nlohmann::json> values;  // choices
  double low = 0, high = 0;            // ranges (inclusive for integer)
  int64_t points = 0;                  // grid points of a range (0: not usable by the grid strategy)

  bool searched() const { return kind != Kind::fixed; }
  // The value at u in [0, 1): a choice, a point of the range, or the fixed value.
  nlohmann::json at(double u) const;
  // Every value the grid strategy visits (choices, or `points` values spread over the range, the
  // log-uniform ones evenly in the logarithm). Throws UsageError for a range without points.
  std::vector<nlohmann::json> grid_values() const;
  // {"choices": [...]}, {"log_uniform": [a, b]} ..., or the fixed value itself.
  nlohmann::json to_json() const;
};

class SearchSpace {
 public:
  // {"optimizer.lr": {"log_uniform": [1e-4, 1e-2]}, "loss.type": {"choices": ["cross_entropy", "dice"]},
  //  "model.N": {"int": [2, 8]}, "batch_size": 2, ...}. An object with exactly one of the keys
  // choices / uniform / log_uniform / int (and optionally "points") is searched; any other value is
  // fixed. Throws UsageError naming the key for a malformed entry or a key the search owns
  // (checkpoint_dir, resume, max_steps).
  static SearchSpace from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;

  const std::vector<Parameter>& parameters() const { return params_; }
  std::vector<std::string> searched_keys() const;

  // The values of trial `trial`: a pure function of (seed, trial, key), so trial k has the same
  // configuration however many trials are drawn and in whatever order.
  nlohmann::json sample(uint64_t seed, int64_t trial) const;
  // Every combination of the grid values (keys in sorted order, the last varying fastest).
  std::vector<nlohmann::json> grid() const;

 private:
  std::vector<Parameter> params_;
};

// Sets a dotted key ("optimizer.lr") in a JSON document, creating objects on the way.
void set_dotted(nlohmann::json& doc, const std::string& key, const nlohmann::json& value);
// Applies a trial's values ({"optimizer.lr": 0.003, ...}) to a training config document.
void apply_values(nlohmann::json& doc, const nlohmann::json& values);

// A uniform double in [0, 1) from a 64-bit hash of (seed, a, b) (splitmix64), identical on every
// platform (unlike std::uniform_real_distribution).
double unit_hash(uint64_t seed, uint64_t a, uint64_t b);

}  // namespace climseg::search
