// The wire format of TcCandidate: how cyclone candidates cross ranks (allgather in `climseg label`)
// or go to a file. Binary, each field in its own type, in the order of tc_candidate_fields(), so
// values come back bit for bit. A field added to TcCandidate but not to tc_candidate_fields() stops
// the build (the static_assert below counts the struct's fields).
#pragma once

#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "models/heuristics/tc_detector.hpp"

namespace climseg::heuristics {

// Every field of a candidate, by reference, in wire order. The one list that the format, its
// round-trip test and the field count below read.
constexpr auto tc_candidate_fields(TcCandidate& c) {
  return std::tie(c.step, c.time_days, c.lat, c.lon, c.psl_min, c.pressure_delta, c.wind_max, c.vorticity, c.vort_lat,
                  c.vort_lon, c.warm_core, c.warm_core_delta, c.thickness, c.thickness_delta);
}
constexpr auto tc_candidate_fields(const TcCandidate& c) {
  return std::tie(c.step, c.time_days, c.lat, c.lon, c.psl_min, c.pressure_delta, c.wind_max, c.vorticity, c.vort_lat,
                  c.vort_lon, c.warm_core, c.warm_core_delta, c.thickness, c.thickness_delta);
}

namespace detail {
// Converts to anything: T{AnyField{}, ...} with N of them compiles exactly when the aggregate T has
// at least N fields (brace elision aside: TcCandidate holds only scalars).
struct AnyField {
  template <class T>
  constexpr operator T() const noexcept {
    return T{};
  }
};
template <class T, size_t... I>
constexpr bool constructible_from_n(std::index_sequence<I...>) {
  return requires { T{(static_cast<void>(I), AnyField{})...}; };
}
// The number of fields of a scalar-only aggregate.
template <class T, size_t N = 0>
constexpr size_t field_count() {
  if constexpr (constructible_from_n<T>(std::make_index_sequence<N + 1>{}))
    return field_count<T, N + 1>();
  else
    return N;
}
}  // namespace detail

inline constexpr size_t kTcCandidateFieldCount = detail::field_count<TcCandidate>();
static_assert(kTcCandidateFieldCount == std::tuple_size_v<decltype(tc_candidate_fields(std::declval<TcCandidate&>()))>,
              "a TcCandidate field is not in tc_candidate_fields(): add it there so it crosses ranks");

// Bytes of one candidate on the wire.
size_t tc_candidate_wire_size();
// Candidates as bytes (a string, for Comm::allgather) and back; decode throws Error for a length
// that is not a whole number of candidates.
std::string encode_candidates(const std::vector<TcCandidate>& candidates);
std::vector<TcCandidate> decode_candidates(std::string_view bytes);

}  // namespace climseg::heuristics
