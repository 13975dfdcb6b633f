// TcCandidate's wire format: the fields of tc_candidate_fields() as raw bytes, one after another
// (the ranks of a run share a machine architecture; bools as one byte 0/1).
#include "models/heuristics/tc_candidate_wire.hpp"

#include <cstring>
#include <type_traits>

#include "core/error.hpp"

namespace climseg::heuristics {

namespace {

template <class T>
constexpr size_t wire_bytes() {
  return std::is_same_v<T, bool> ? 1 : sizeof(T);
}

}  // namespace

size_t tc_candidate_wire_size() {
  TcCandidate c;
  size_t n = 0;
  std::apply([&](auto&... f) { ((n += wire_bytes<std::remove_cvref_t<decltype(f)>>()), ...); }, tc_candidate_fields(c));
  return n;
}

std::string encode_candidates(const std::vector<TcCandidate>& candidates) {
  std::string out;
  out.reserve(candidates.size() * tc_candidate_wire_size());
  for (const TcCandidate& c : candidates)
    std::apply(
        [&](const auto&... f) {
          auto put = [&](const auto& v) {
            using T = std::remove_cvref_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
              out.push_back(v ? '\1' : '\0');
            } else {
              char b[sizeof(T)];
              std::memcpy(b, &v, sizeof(T));
              out.append(b, sizeof(T));
            }
          };
          (put(f), ...);
        },
        tc_candidate_fields(c));
  return out;
}

std::vector<TcCandidate> decode_candidates(std::string_view bytes) {
  const size_t size = tc_candidate_wire_size();
  if (bytes.size() % size != 0)
    fail("cyclone candidates: {} bytes is not a whole number of {}-byte candidates", bytes.size(), size);
  std::vector<TcCandidate> out(bytes.size() / size);
  const char* p = bytes.data();
  for (TcCandidate& c : out)
    std::apply(
        [&](auto&... f) {
          auto get = [&](auto& v) {
            using T = std::remove_cvref_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
              v = *p++ != 0;
            } else {
              std::memcpy(&v, p, sizeof(T));
              p += sizeof(T);
            }
          };
          (get(f), ...);
        },
        tc_candidate_fields(c));
  return out;
}

}  // namespace climseg::heuristics
