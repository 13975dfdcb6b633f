// Physical units through UDUNITS-2 (the units library of NCO and CDO): the units strings of CF
// files parsed, and values converted between compatible units. The one path for everything that
// feeds values to something expecting particular units: a model's input channels (predict,
// evaluate), the detectors' roles (label), vertical axes and surface pressure (IVT).
#pragma once

#include <cstdint>
#include <string>

namespace climseg::io {

// Conversions between two quantities that a physical constant links, which are not unit
// conversions: to UDUNITS-2, mm (a length) and kg m-2 (a mass per area) are incompatible, and
// "mm water" is a pressure head (1 mm H2O = 9.80665 Pa); geopotential (m2 s-2) and geopotential
// height (m) are incompatible too. A bridge is allowed only where the quantity says so.
enum class UnitBridge {
  none,
  // A depth of liquid water and its mass per area (and their rates: mm day-1 and kg m-2 s-1),
  // through the density of liquid water, 1000 kg m-3 (CF's lwe_ quantities): 1 mm = 1 kg m-2.
  water,
  // Geopotential and geopotential height through standard gravity g0 = 9.80665 m s-2.
  geopotential,
};

// y = scale * x + offset: every conversion between the units of climate fields is affine
// (scaling, or a temperature's offset).
struct UnitConversion {
  double scale = 1.0, offset = 0.0;
  std::string note;  // the bridge applied ("liquid water, 1000 kg m-3"), "" for none
  bool identity() const { return scale == 1.0 && offset == 0.0; }
  double apply(double x) const { return scale * x + offset; }
  void apply(float* x, int64_t n) const;  // in place; NaN stays NaN
};

// The spelling UDUNITS-2 reads for units strings that climate files write otherwise, made explicit
// here: "mb"/"MB" is the millibar (UDUNITS-2 reads millibarn, an area), lower-case "hpa"/"pa" the
// hectopascal/pascal, "gpm" the geopotential metre (m), "m2s-2" m2 s-2, "deg C" degC. Anything
// else is returned as it is (trimmed).
std::string normalize_units(const std::string& units);

// Whether UDUNITS-2 understands `units` (after normalize_units). "" is not understood here (a
// missing units attribute says nothing; UDUNITS-2 itself would read it as 1).
bool units_understood(const std::string& units);

// Whether `a` and `b` are the same units, as strings (after normalize_units) or to UDUNITS-2.
bool same_units(const std::string& a, const std::string& b);

// Whether values in `from` can be converted to `to` (through `bridge` where needed); when not,
// `why` gets one line naming the units and what UDUNITS-2 makes of them.
bool convertible(const std::string& from, const std::string& to, UnitBridge bridge = UnitBridge::none,
                 std::string* why = nullptr);

// The conversion of values in `from` to `to`. Identical strings convert as the identity even when
// UDUNITS-2 does not know them ("level"). Throws Error "<what>: units 'X' ..." when either is not
// understood or they are incompatible. Thread-safe (UDUNITS-2 itself is not: calls are serialised).
UnitConversion unit_conversion(const std::string& from, const std::string& to, UnitBridge bridge = UnitBridge::none,
                               const std::string& what = {});

// Units strings that a well-known data set writes wrongly, and the units its values are in;
// "" for any other string. Callers warn when they use one. ClimDeepLearn's MERRA-2 IVT is in
// "kg kg-1 m-1 s-1" (UDUNITS-2: m-1 s-1, the mixing ratio's kg kg-1 kept from q), values kg m-1 s-1.
std::string known_mislabel(const std::string& units);

// Pascals per unit when `units` is a pressure (hPa: 100, Pa: 1, mb: 100), else 0.
double pascals_per_unit(const std::string& units);

}  // namespace climseg::io
