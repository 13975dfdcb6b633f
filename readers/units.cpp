// Units through UDUNITS-2: parsing, compatibility, affine conversions, and the two bridges.
#include "readers/units.hpp"

#include <fmt/format.h>
#include <udunits2.h>

#include <cctype>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>

#include "core/error.hpp"

namespace climseg::io {
namespace {

// UDUNITS-2 keeps global parser state: every call goes through this lock.
std::mutex& units_mutex() {
  static std::mutex m;
  return m;
}

// The unit system, read once from UDUNITS-2's XML database (UDUNITS2_XML_PATH or the path the
// library was built with, /usr/share/xml/udunits/udunits2.xml on Debian). Call under the lock.
ut_system* unit_system() {
  static ut_system* system = [] {
    ut_set_error_message_handler(ut_ignore);
    return ut_read_xml(nullptr);
  }();
  if (system == nullptr)
    fail(
        "UDUNITS-2 cannot read its units database (set UDUNITS2_XML_PATH to udunits2.xml; Debian installs it as "
        "/usr/share/xml/udunits/udunits2.xml with libudunits2-data)");
  return system;
}

struct UnitFree {
  void operator()(ut_unit* u) const { ut_free(u); }
};
using Unit = std::unique_ptr<ut_unit, UnitFree>;

struct ConverterFree {
  void operator()(cv_converter* c) const { cv_free(c); }
};

// Parses under the lock; null when UDUNITS-2 does not understand the string.
Unit parse(const std::string& units) {
  const std::string n = normalize_units(units);
  if (n.empty()) return nullptr;
  return Unit(ut_parse(unit_system(), n.c_str(), UT_UTF8));
}

// What UDUNITS-2 makes of a unit, for messages ("m-1.s-1").
std::string definition(const ut_unit* u) {
  char buf[256] = {0};
  const int n = ut_format(u, buf, sizeof(buf), UT_ASCII | UT_DEFINITION);
  return n > 0 && n < static_cast<int>(sizeof(buf)) ? std::string(buf) : std::string("?");
}

// The affine map of a converter from its values at 0, 1 and 2 (every converter between the
// units of climate fields is affine; a logarithmic one is refused).
std::optional<UnitConversion> affine(const ut_unit* from, const ut_unit* to) {
  std::unique_ptr<cv_converter, ConverterFree> c(
      ut_get_converter(const_cast<ut_unit*>(from), const_cast<ut_unit*>(to)));
  if (!c) return std::nullopt;
  UnitConversion r;
  r.offset = cv_convert_double(c.get(), 0.0);
  r.scale = cv_convert_double(c.get(), 1.0) - r.offset;
  const double two = cv_convert_double(c.get(), 2.0);
  if (!std::isfinite(r.scale) || !std::isfinite(r.offset) ||
      std::abs(two - (2.0 * r.scale + r.offset)) > 1e-9 * std::max(1.0, std::abs(two)))
    return std::nullopt;
  // Exact factors stay exact (1 for identical units, 100 for hPa -> Pa).
  if (std::abs(r.scale - std::round(r.scale)) < 1e-12 * std::max(1.0, std::abs(r.scale))) r.scale = std::round(r.scale);
  if (std::abs(r.offset) < 1e-12) r.offset = 0.0;
  return r;
}

// The constant a bridge multiplies or divides by, as a unit (e.g. 1000 kg m-3).
const char* bridge_constant(UnitBridge b) {
  switch (b) {
    case UnitBridge::water:
      return "1000 kg m-3";
    case UnitBridge::geopotential:
      return "9.80665 m s-2";
    case UnitBridge::none:
      break;
  }
  return nullptr;
}

const char* bridge_note(UnitBridge b) {
  return b == UnitBridge::water ? "liquid water, 1000 kg m-3" : "standard gravity, 9.80665 m s-2";
}

// The conversion, or why there is none. Call under the lock.
std::optional<UnitConversion> plan(const std::string& from, const std::string& to, UnitBridge bridge,
                                   std::string* why) {
  if (normalize_units(from) == normalize_units(to) && !normalize_units(from).empty()) return UnitConversion{};
  auto say = [&](std::string text) {
    if (why != nullptr) *why = std::move(text);
    return std::nullopt;
  };
  if (normalize_units(from).empty()) return say(fmt::format("no units given (the values should be in '{}')", to));
  Unit a = parse(from), b = parse(to);
  if (!a) return say(fmt::format("units '{}' are not understood by UDUNITS-2", from));
  if (!b) return say(fmt::format("units '{}' are not understood by UDUNITS-2", to));
  if (ut_are_convertible(a.get(), b.get())) {
    if (auto r = affine(a.get(), b.get())) return r;
    return say(fmt::format("units '{}' convert to '{}' only non-linearly", from, to));
  }
  if (const char* k = bridge_constant(bridge)) {
    Unit c(ut_parse(unit_system(), k, UT_ASCII));
    if (!c) fail("UDUNITS-2 does not understand '{}'", k);
    for (bool multiply : {true, false}) {
      Unit bridged(multiply ? ut_multiply(a.get(), c.get()) : ut_divide(a.get(), c.get()));
      if (bridged && ut_are_convertible(bridged.get(), b.get()))
        if (auto r = affine(bridged.get(), b.get())) {
          r->note = bridge_note(bridge);
          return r;
        }
    }
  }
  return say(fmt::format("units '{}' ({}) cannot be converted to '{}' ({}){}", from, definition(a.get()), to,
                         definition(b.get()),
                         bridge == UnitBridge::none ? "" : fmt::format(", not even as {}", bridge_note(bridge))));
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

void UnitConversion::apply(float* x, int64_t n) const {
  if (identity()) return;
  const double s = scale, o = offset;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(s * x[i] + o);
}

std::string normalize_units(const std::string& units) {
  const std::string u = trim(units);
  // Spellings of climate files that UDUNITS-2 reads as something else or not at all.
  struct Alias {
    const char* file;
    const char* udunits;
  };
  static const Alias aliases[] = {
      {"mb", "mbar"},                          // UDUNITS-2: millibarn (an area)
      {"MB", "mbar"},                          //
      {"mb/day", "mbar/day"}, {"hpa", "hPa"},  // UDUNITS-2 is case-sensitive
      {"HPA", "hPa"},                          //
      {"pa", "Pa"},                            //
      {"PA", "Pa"},                            //
      {"kpa", "kPa"},                          //
      {"C", "degC"},                           // UDUNITS-2: coulomb; climate files mean Celsius (NCAR's geocat T)
      {"deg C", "degC"},                       //
      {"deg_C", "degC"},                       //
      {"gpm", "m"},                            // geopotential metre (NCEP)
      {"m2s-2", "m2 s-2"},                     //
      {"m2/s2", "m2 s-2"},                     //
      {"fraction", "1"},                       //
      {"dimensionless", "1"},
  };
  for (const Alias& a : aliases)
    if (u == a.file) return a.udunits;
  return u;
}

bool units_understood(const std::string& units) {
  std::lock_guard<std::mutex> lock(units_mutex());
  return parse(units) != nullptr;
}

bool same_units(const std::string& a, const std::string& b) {
  std::lock_guard<std::mutex> lock(units_mutex());
  auto r = plan(a, b, UnitBridge::none, nullptr);
  return r && r->identity();
}

bool convertible(const std::string& from, const std::string& to, UnitBridge bridge, std::string* why) {
  std::lock_guard<std::mutex> lock(units_mutex());
  return plan(from, to, bridge, why).has_value();
}

UnitConversion unit_conversion(const std::string& from, const std::string& to, UnitBridge bridge,
                               const std::string& what) {
  std::string why;
  std::optional<UnitConversion> r;
  {
    std::lock_guard<std::mutex> lock(units_mutex());
    r = plan(from, to, bridge, &why);
  }
  if (!r) fail("{}{}", what.empty() ? "" : what + ": ", why);
  return *r;
}

std::string known_mislabel(const std::string& units) {
  return normalize_units(units) == "kg kg-1 m-1 s-1" ? "kg m-1 s-1" : std::string();
}

double pascals_per_unit(const std::string& units) {
  std::lock_guard<std::mutex> lock(units_mutex());
  Unit a = parse(units), pa = parse("Pa");
  if (!a || !pa || !ut_are_convertible(a.get(), pa.get())) return 0.0;
  auto r = affine(a.get(), pa.get());
  return r && r->offset == 0.0 && r->scale > 0 ? r->scale : 0.0;
}

}  // namespace climseg::io
