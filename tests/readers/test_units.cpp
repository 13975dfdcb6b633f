// Units through UDUNITS-2 (readers/units.hpp): the conversions climate files need, worked by hand,
// the spellings UDUNITS-2 reads otherwise, the water and geopotential bridges, and refusals; then
// archive channels found by standard name, level and known names, and converted on reading.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "core/error.hpp"
#include "nc_builder.hpp"
#include "readers/archive.hpp"
#include "readers/units.hpp"
#include "test_support.hpp"

using namespace climseg::io;

namespace {

std::string error_of(const std::string& from, const std::string& to, UnitBridge b = UnitBridge::none) {
  try {
    unit_conversion(from, to, b, "f.nc: variable X");
  } catch (const climseg::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Units, ScalesAndOffsetsOfClimateFields) {
  EXPECT_EQ(unit_conversion("hPa", "Pa").scale, 100.0);
  EXPECT_EQ(unit_conversion("millibars", "Pa").scale, 100.0);
  EXPECT_EQ(unit_conversion("Pa", "hPa").scale, 0.01);
  EXPECT_DOUBLE_EQ(unit_conversion("g/kg", "kg/kg").scale, 0.001);
  EXPECT_DOUBLE_EQ(unit_conversion("g kg-1", "kg kg-1").scale, 0.001);
  EXPECT_DOUBLE_EQ(unit_conversion("g/kg", "1").scale, 0.001);
  const UnitConversion c = unit_conversion("degC", "K");
  EXPECT_EQ(c.scale, 1.0);
  EXPECT_DOUBLE_EQ(c.offset, 273.15);
  EXPECT_DOUBLE_EQ(unit_conversion("knots", "m s-1").scale, 1852.0 / 3600.0);
  EXPECT_DOUBLE_EQ(unit_conversion("mm/day", "m s-1").scale, 1e-3 / 86400.0);
  // ERA5's GRIB spellings are the same units as CF's.
  EXPECT_TRUE(unit_conversion("m s**-1", "m s-1").identity());
  EXPECT_TRUE(unit_conversion("m**2 s**-2", "m2 s-2").identity());
  EXPECT_TRUE(unit_conversion("kg m**-2", "kg m-2").identity());
  EXPECT_TRUE(unit_conversion("m/s", "m s-1").identity());
  EXPECT_TRUE(same_units("W/m^2", "W m-2"));
  EXPECT_FALSE(same_units("hPa", "Pa"));
}

TEST(Units, SpellingsUdunitsReadsOtherwise) {
  // UDUNITS-2 alone reads "mb" as the millibarn (an area) and "C" as the coulomb.
  EXPECT_EQ(normalize_units(" mb "), "mbar");
  EXPECT_EQ(unit_conversion("mb", "Pa").scale, 100.0);
  EXPECT_DOUBLE_EQ(unit_conversion("C", "K").offset, 273.15);
  EXPECT_TRUE(unit_conversion("gpm", "m").identity());
  EXPECT_EQ(unit_conversion("hpa", "Pa").scale, 100.0);
  EXPECT_TRUE(units_understood("millibars"));
  EXPECT_FALSE(units_understood("level"));
  EXPECT_FALSE(units_understood(""));
  // The same unknown string on both sides is the identity.
  EXPECT_TRUE(unit_conversion("level", "level").identity());
}

TEST(Units, WaterBridgeForMmOfPrecipitableWater) {
  // mm is a length, kg m-2 a mass per area: no unit conversion joins them...
  EXPECT_NE(error_of("mm", "kg m-2").find("cannot be converted"), std::string::npos) << error_of("mm", "kg m-2");
  // ...but a depth of liquid water does, through its density 1000 kg m-3: 1 mm = 1 kg m-2.
  const UnitConversion w = unit_conversion("mm", "kg m-2", UnitBridge::water);
  EXPECT_DOUBLE_EQ(w.scale, 1.0);
  EXPECT_NE(w.note.find("1000 kg m-3"), std::string::npos);
  EXPECT_DOUBLE_EQ(unit_conversion("m", "kg m-2", UnitBridge::water).scale, 1000.0);
  EXPECT_DOUBLE_EQ(unit_conversion("cm", "kg m-2", UnitBridge::water).scale, 10.0);
  EXPECT_DOUBLE_EQ(unit_conversion("kg m-2", "mm", UnitBridge::water).scale, 1.0);
  // Rates: 1 mm/day of rain = 1 kg m-2 per 86400 s; CAM's PRECT in m s-1 = 1000 kg m-2 s-1.
  EXPECT_DOUBLE_EQ(unit_conversion("mm/day", "kg m-2 s-1", UnitBridge::water).scale, 1.0 / 86400.0);
  EXPECT_DOUBLE_EQ(unit_conversion("kg m-2 s-1", "m s-1", UnitBridge::water).scale, 1e-3);
  // Units that already agree take no bridge.
  EXPECT_TRUE(unit_conversion("kg m-2", "kg m-2", UnitBridge::water).note.empty());
  // The bridge joins water amounts only: a pressure is still refused.
  EXPECT_NE(error_of("Pa", "kg m-2", UnitBridge::water).find("not even as liquid water"), std::string::npos);
}

TEST(Units, GeopotentialBridge) {
  const UnitConversion g = unit_conversion("m2 s-2", "m", UnitBridge::geopotential);
  EXPECT_DOUBLE_EQ(g.scale, 1.0 / 9.80665);
  EXPECT_DOUBLE_EQ(unit_conversion("m**2 s**-2", "m", UnitBridge::geopotential).apply(98066.5), 10000.0);
  EXPECT_NE(error_of("m2 s-2", "m").find("cannot be converted"), std::string::npos);
}

TEST(Units, RefusalsNameTheUnitsAndWhatUdunitsMakesOfThem) {
  // ClimDeepLearn's MERRA-2 IVT: "kg kg-1 m-1 s-1" is m-1 s-1 to UDUNITS-2, not kg m-1 s-1.
  const std::string e = error_of("kg kg-1 m-1 s-1", "kg m-1 s-1");
  EXPECT_EQ(e.rfind("f.nc: variable X: units 'kg kg-1 m-1 s-1' (m-1.s-1) cannot be converted to 'kg m-1 s-1'", 0), 0u)
      << e;
  EXPECT_NE(error_of("Pa", "K").find("cannot be converted"), std::string::npos);
  EXPECT_NE(error_of("furlongs per flood", "m").find("not understood by UDUNITS-2"), std::string::npos);
  EXPECT_NE(error_of("", "Pa").find("no units given"), std::string::npos);
  std::string why;
  EXPECT_FALSE(convertible("hPa", "m s-1", UnitBridge::none, &why));
  EXPECT_NE(why.find("'hPa'"), std::string::npos) << why;
}

TEST(Units, PascalsPerUnitOfLevelAxes) {
  EXPECT_EQ(pascals_per_unit("hPa"), 100.0);
  EXPECT_EQ(pascals_per_unit("millibars"), 100.0);
  EXPECT_EQ(pascals_per_unit("mb"), 100.0);
  EXPECT_EQ(pascals_per_unit("Pa"), 1.0);
  EXPECT_EQ(pascals_per_unit("kPa"), 1000.0);
  EXPECT_EQ(pascals_per_unit("m"), 0.0);
  EXPECT_EQ(pascals_per_unit("level"), 0.0);
  EXPECT_EQ(pascals_per_unit("1"), 0.0);
}

TEST(Units, ApplyKeepsNaN) {
  float x[3] = {1013.25f, std::numeric_limits<float>::quiet_NaN(), 850.0f};
  unit_conversion("hPa", "Pa").apply(x, 3);
  EXPECT_FLOAT_EQ(x[0], 101325.0f);
  EXPECT_TRUE(std::isnan(x[1]));
  EXPECT_FLOAT_EQ(x[2], 85000.0f);
}

// ------------------------------------------------------------------------------------------------
// Channels found by standard name and level, and converted, in an archive (readers/archive.cpp).

namespace {

using climseg::test::NcBuilder;
using climseg::test::TempDir;
namespace fs = std::filesystem;

std::string archive_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const climseg::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// An ERA5-like file (2x4 grid, one step): tcwv (kg m**-2, standard name), msl in hPa (standard
// name), u/v on pressure levels 1000/850/500 (hPa, standard names), q in g/kg, a precipitable
// water in mm (NCEP's PREH2O), and u10 without a standard name.
fs::path era5_file(const TempDir& dir, const std::string& name = "era5.nc") {
  const fs::path p = dir / name;
  std::vector<double> tcwv, msl, pw, u10;
  for (int k = 0; k < 8; ++k) {
    tcwv.push_back(20.0 + k);
    msl.push_back(1000.0 + k);
    pw.push_back(30.0 + k);
    u10.push_back(k);
  }
  std::vector<double> u3, v3, q3;
  for (int l = 0; l < 3; ++l)
    for (int k = 0; k < 8; ++k) {
      u3.push_back(100.0 * l + k);
      v3.push_back(-100.0 * l - k);
      q3.push_back(10.0 + l);
    }
  NcBuilder(p)
      .dim("time", 0)
      .dim("level", 3)
      .dim("latitude", 2)
      .dim("longitude", 4)
      .var("time", NC_DOUBLE, {"time"}, {0})
      .att("time", "units", "hours since 2000-01-01")
      .var("level", NC_INT, {"level"}, {1000, 850, 500})
      .att("level", "units", "millibars")
      .att("level", "standard_name", "air_pressure")
      .var("latitude", NC_DOUBLE, {"latitude"}, {-45, 45})
      .att("latitude", "units", "degrees_north")
      .var("longitude", NC_DOUBLE, {"longitude"}, {0, 90, 180, 270})
      .att("longitude", "units", "degrees_east")
      .var("tcwv", NC_FLOAT, {"time", "latitude", "longitude"}, tcwv)
      .att("tcwv", "units", "kg m**-2")
      .att("tcwv", "standard_name", "atmosphere_mass_content_of_water_vapor")
      .var("msl", NC_FLOAT, {"time", "latitude", "longitude"}, msl)
      .att("msl", "units", "hPa")
      .att("msl", "standard_name", "air_pressure_at_mean_sea_level")
      .var("u", NC_FLOAT, {"time", "level", "latitude", "longitude"}, u3)
      .att("u", "units", "m s**-1")
      .att("u", "standard_name", "eastward_wind")
      .var("v", NC_FLOAT, {"time", "level", "latitude", "longitude"}, v3)
      .att("v", "units", "m s**-1")
      .att("v", "standard_name", "northward_wind")
      .var("q", NC_FLOAT, {"time", "level", "latitude", "longitude"}, q3)
      .att("q", "units", "g/kg")
      .var("PREH2O", NC_FLOAT, {"time", "latitude", "longitude"}, pw)
      .att("PREH2O", "units", "mm")
      .var("u10", NC_FLOAT, {"time", "latitude", "longitude"}, u10)
      .att("u10", "units", "m s**-1")
      .write();
  return p;
}

// A model channel as predict asks for it: by name, else standard name and level, else aliases.
ChannelSpec wanted(const std::string& spec, const std::string& units, std::vector<std::string> standard_names,
                   std::vector<std::string> aliases = {}, UnitBridge bridge = UnitBridge::none) {
  ChannelSpec s = ChannelSpec::parse(spec);
  s.units = units;
  s.standard_names = std::move(standard_names);
  s.aliases = std::move(aliases);
  s.bridge = bridge;
  return s;
}

}  // namespace

TEST(ArchiveChannels, FoundByStandardNameAndLevelAndConverted) {
  TempDir dir;
  const fs::path f = era5_file(dir);
  ArchiveOptions o;
  o.channels = {wanted("TMQ", "kg m-2", {"atmosphere_mass_content_of_water_vapor"}),
                wanted("U@850", "m s-1", {"eastward_wind"}), wanted("V@850", "m s-1", {"northward_wind"}),
                wanted("PSL", "Pa", {"air_pressure_at_mean_sea_level"})};
  Archive a = Archive::open({f.string()}, o);
  EXPECT_EQ(a.channel_names(), (std::vector<std::string>{"TMQ", "U850", "V850", "PSL"}));
  EXPECT_EQ(a.channel_units(), (std::vector<std::string>{"kg m-2", "m s-1", "m s-1", "Pa"}));
  const auto& src = a.channel_sources();
  EXPECT_EQ(src[0].var, "tcwv");
  EXPECT_EQ(src[0].how, "by standard_name atmosphere_mass_content_of_water_vapor");
  EXPECT_EQ(src[1].spec, "u@850hPa");
  EXPECT_EQ(src[1].level, "850 millibars");
  EXPECT_EQ(src[3].file_units, "hPa");
  EXPECT_EQ(src[3].conversion.scale, 100.0);
  const Sample s = a.load(0);
  // File order: latitude -45 first, as canonical. Values: tcwv 20+k, u at level index 1 (850) 100+k,
  // v -100-k, msl (1000+k) hPa -> Pa.
  for (int k = 0; k < 8; ++k) {
    EXPECT_FLOAT_EQ(s.data[0 * 8 + k], 20.0f + float(k));
    EXPECT_FLOAT_EQ(s.data[1 * 8 + k], 100.0f + float(k));
    EXPECT_FLOAT_EQ(s.data[2 * 8 + k], -100.0f - float(k));
    EXPECT_FLOAT_EQ(s.data[3 * 8 + k], 100.0f * (1000.0f + float(k)));
  }
  EXPECT_EQ(s.units[3], "Pa");
  // The name comes first: a variable named TMQ would win over tcwv (see below for aliases).
  const std::vector<ChannelMeta> meta = a.channel_meta();
  EXPECT_EQ(meta[1].level, "850 hPa");
  EXPECT_EQ(meta[1].standard_name, "eastward_wind");
}

TEST(ArchiveChannels, AliasesWaterBridgeAndRefusals) {
  TempDir dir;
  const fs::path f = era5_file(dir);
  // No standard name on PREH2O: found by a known name, mm of water -> kg m-2 (1 mm = 1 kg m-2).
  {
    ArchiveOptions o;
    o.channels = {wanted("TMQ", "kg m-2", {"no_such_standard_name"}, {"IWV", "PREH2O"}, UnitBridge::water)};
    Archive a = Archive::open({f.string()}, o);
    EXPECT_EQ(a.channel_sources()[0].var, "PREH2O");
    EXPECT_EQ(a.channel_sources()[0].how, "by known name");
    EXPECT_FLOAT_EQ(a.load(0).data[5], 35.0f);
  }
  // Without the bridge, mm is refused, naming the variable, the units and the fix.
  {
    ArchiveOptions o;
    o.channels = {wanted("TMQ", "kg m-2", {}, {"PREH2O"})};
    const std::string e = archive_error([&] { Archive::open({f.string()}, o); });
    EXPECT_NE(e.find("variable PREH2O (channel TMQ): units 'mm' (0.001 m) cannot be converted to 'kg m-2'"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("--units PREH2O='kg m-2'"), std::string::npos) << e;
    // --units says what the file does not: the values are then taken as kg m-2.
    o.units_override = parse_units_overrides({"PREH2O=kg m-2"});
    EXPECT_FLOAT_EQ(Archive::open({f.string()}, o).load(0).data[5], 35.0f);
  }
  // Specific humidity in g/kg as a 3-D field in kg/kg.
  {
    Archive a = Archive::open({f.string()}, {});
    const Field3D q = a.load_field(0, "q", "kg kg-1");
    EXPECT_FLOAT_EQ(q.data[0], 0.010f);
    EXPECT_FLOAT_EQ(q.data[2 * 8], 0.012f);
    EXPECT_EQ(q.units, "kg kg-1");
  }
  // Every missing channel in one line: what each is, what was tried, what the file has, the hint.
  {
    ArchiveOptions o;
    o.channels = {wanted("TMQ", "kg m-2", {"atmosphere_mass_content_of_water_vapor"}),
                  wanted("T@200", "K", {"air_temperature"}, {"ta@200"}), wanted("PS", "Pa", {"surface_air_pressure"})};
    o.missing_option = "--channels";
    const std::string e = archive_error([&] { Archive::open({f.string()}, o); });
    EXPECT_NE(e.find("2 of the 3 channels are missing: T200 (K, air_temperature at 200 hPa): no variable T@200, "
                     "none with standard_name air_temperature at 200 hPa, none of ta@200; PS (Pa, "
                     "surface_air_pressure): no variable PS, none with standard_name surface_air_pressure; the file "
                     "has "),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("msl (air_pressure_at_mean_sea_level)"), std::string::npos) << e;
    EXPECT_NE(e.find("; name the variable of each with --channels T200=VAR,PS=VAR"), std::string::npos) << e;
  }
  // A level the variable does not have is not found by standard name either.
  {
    ArchiveOptions o;
    o.channels = {wanted("U@250", "m s-1", {"eastward_wind"})};
    EXPECT_NE(archive_error([&] { Archive::open({f.string()}, o); }).find("1 of the 1 channels is missing"),
              std::string::npos);
  }
  // Incompatible units are refused even when found by name.
  {
    ArchiveOptions o;
    o.channels = {wanted("msl", "K", {})};
    EXPECT_NE(archive_error([&] { Archive::open({f.string()}, o); }).find("cannot be converted to 'K'"),
              std::string::npos);
  }
}

TEST(ArchiveChannels, KnownMislabelAndMissingUnits) {
  TempDir dir;
  const fs::path p = dir / "merra.nc";
  NcBuilder(p)
      .dim("time", 0)
      .dim("lat", 2)
      .dim("lon", 4)
      .var("time", NC_DOUBLE, {"time"}, {0})
      .att("time", "units", "days since 1979-01-01 00:00:00")
      .var("lat", NC_DOUBLE, {"lat"}, {-45, 45})
      .att("lat", "units", "degrees_north")
      .var("lon", NC_DOUBLE, {"lon"}, {0, 90, 180, 270})
      .att("lon", "units", "degrees_east")
      .var("IVT", NC_FLOAT, {"time", "lat", "lon"}, {1, 2, 3, 4, 5, 6, 7, 8})
      .att("IVT", "units", "kg kg-1 m-1 s-1")
      .var("X", NC_FLOAT, {"time", "lat", "lon"}, {1, 2, 3, 4, 5, 6, 7, 8})
      .write();
  ArchiveOptions o;
  o.channels = {wanted("IVT", "kg m-1 s-1", {}), wanted("X", "Pa", {})};
  Archive a = Archive::open({p.string()}, o);
  EXPECT_EQ(a.channel_sources()[0].file_units, "kg m-1 s-1");  // ClimDeepLearn's MERRA-2 mislabel
  EXPECT_TRUE(a.channel_sources()[1].conversion.identity());   // no units: taken as asked (a warning)
  EXPECT_FLOAT_EQ(a.load(0).data[7], 8.0f);
}
