// TcCandidate's wire format (models/heuristics/tc_candidate_wire.hpp): every field crosses bit for
// bit, and the field counter behind its static_assert counts fields (so a field added to the struct
// but not to tc_candidate_fields() stops the build).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "models/heuristics/tc_candidate_wire.hpp"

namespace climseg::heuristics {
namespace {

// Every field set to a value that differs from its default and from every other field's, through
// the field list itself: a field left out of the format comes back as its default.
TcCandidate distinct_candidate(int seed) {
  TcCandidate c;
  int k = 0;
  std::apply(
      [&](auto&... f) {
        auto set = [&](auto& v) {
          using T = std::remove_cvref_t<decltype(v)>;
          ++k;
          if constexpr (std::is_same_v<T, bool>)
            v = true;  // defaults are false
          else if constexpr (std::is_integral_v<T>)
            v = T(1000 * seed + k);
          else
            v = T(seed) + T(k) / 3.0 + 1e-13;  // not exact in decimal: text at %.6g would lose it
        };
        (set(f), ...);
      },
      tc_candidate_fields(c));
  return c;
}

// Each field's bytes, in the order of the field list.
std::vector<std::string> field_bytes(const TcCandidate& c) {
  std::vector<std::string> out;
  std::apply([&](const auto&... f) { (out.emplace_back(reinterpret_cast<const char*>(&f), sizeof(f)), ...); },
             tc_candidate_fields(c));
  return out;
}

TEST(TcCandidateWire, EveryFieldSurvivesBitForBit) {
  std::vector<TcCandidate> in = {distinct_candidate(1), distinct_candidate(2), TcCandidate{}};
  in[2].lat = std::numeric_limits<double>::quiet_NaN();
  in[2].vorticity = -0.0;
  in[2].psl_min = std::numeric_limits<double>::infinity();
  const std::string bytes = encode_candidates(in);
  EXPECT_EQ(bytes.size(), in.size() * tc_candidate_wire_size());
  const std::vector<TcCandidate> out = decode_candidates(bytes);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const auto a = field_bytes(in[i]), b = field_bytes(out[i]);
    ASSERT_EQ(a.size(), kTcCandidateFieldCount);
    for (size_t f = 0; f < a.size(); ++f) EXPECT_EQ(a[f], b[f]) << "candidate " << i << ", field " << f;
  }
  // Spot checks by name, in case the field list and the struct disagreed in order.
  EXPECT_EQ(out[0].step, in[0].step);
  EXPECT_EQ(out[1].thickness_delta, in[1].thickness_delta);
  EXPECT_TRUE(out[0].warm_core && out[0].thickness);
  EXPECT_TRUE(std::isnan(out[2].lat));
  EXPECT_TRUE(std::signbit(out[2].vorticity));
  EXPECT_TRUE(decode_candidates(encode_candidates({})).empty());
}

TEST(TcCandidateWire, TruncatedBytesAreRefused) {
  const std::string bytes = encode_candidates({distinct_candidate(1)});
  EXPECT_THROW(decode_candidates(std::string_view(bytes).substr(0, bytes.size() - 1)), Error);
}

// The counter the static_assert relies on: it counts fields of scalar aggregates, so a 15th field in
// TcCandidate makes kTcCandidateFieldCount 15 against the list's 14.
struct ThreeFields {
  int64_t a = 0;
  double b = 0;
  bool c = false;
};
TEST(TcCandidateWire, TheFieldCounterCountsFields) {
  EXPECT_EQ(detail::field_count<ThreeFields>(), 3u);
  EXPECT_EQ(detail::field_count<TcCandidate>(), 14u);
  EXPECT_EQ(kTcCandidateFieldCount, std::tuple_size_v<decltype(tc_candidate_fields(std::declval<TcCandidate&>()))>);
}

}  // namespace
}  // namespace climseg::heuristics
