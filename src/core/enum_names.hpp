// Names of enumerations' values, declared once beside each enumeration, so that enumerated
// options are types parsed once, at the edge (a configuration's from_json), and written back by
// name. Light on purpose: kernels' headers include it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.hpp"

namespace climseg::config {

// Names of an enumeration's values, declared once beside the enumeration:
//   template <> struct config::EnumTable<LossType> {
//     static constexpr std::pair<const char*, LossType> names[] = {{"jaccard", LossType::jaccard}, ...};
//   };
template <class E>
struct EnumTable;

template <class E>
const char* to_string(E value) {
  for (const auto& [n, v] : EnumTable<E>::names)
    if (v == value) return n;
  return "?";
}

// "a, b, c": the names, for messages.
template <class E>
std::string choices() {
  std::string all;
  for (const auto& [n, v] : EnumTable<E>::names) all += (all.empty() ? "" : ", ") + std::string(n);
  return all;
}

// The value named `text`, if any.
template <class E>
std::optional<E> find_enum(std::string_view text) {
  for (const auto& [n, v] : EnumTable<E>::names)
    if (text == n) return v;
  return std::nullopt;
}

// The value named `text`; UsageError "<what>: '<key>' must be one of ..., got '<text>'" otherwise.
template <class E>
E parse_enum(const std::string& text, const std::string& what, const std::string& key) {
  if (auto v = find_enum<E>(text)) return *v;
  fail_usage("{}: '{}' must be one of {}, got '{}'", what, key, choices<E>(), text);
}

}  // namespace climseg::config
