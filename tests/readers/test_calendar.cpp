// CF calendars and time units: every calendar across a leap day, the 1582 switch, and round trips.
// Expected dates are worked by hand (and agree with cftime 1.6).
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "readers/calendar.hpp"

using namespace climseg::io;

namespace {
std::string decode(const char* units, const char* calendar, double value) {
  return TimeUnits::parse(units, calendar).decode(value).iso();
}
}  // namespace

TEST(Calendar, ParsesEveryCfName) {
  EXPECT_EQ(parse_calendar(""), Calendar::standard);
  EXPECT_EQ(parse_calendar("Gregorian"), Calendar::standard);
  EXPECT_EQ(parse_calendar("proleptic_gregorian"), Calendar::proleptic_gregorian);
  EXPECT_EQ(parse_calendar("365_day"), Calendar::noleap);
  EXPECT_EQ(parse_calendar("noleap"), Calendar::noleap);
  EXPECT_EQ(parse_calendar("366_day"), Calendar::all_leap);
  EXPECT_EQ(parse_calendar("all_leap"), Calendar::all_leap);
  EXPECT_EQ(parse_calendar("360_day"), Calendar::day360);
  EXPECT_EQ(parse_calendar("julian"), Calendar::julian);
  EXPECT_THROW(parse_calendar("none"), climseg::Error);
  EXPECT_THROW(parse_calendar("lunar"), climseg::Error);
}

TEST(Calendar, StandardAcrossLeapDay) {
  EXPECT_EQ(decode("days since 2000-02-28", "standard", 0), "2000-02-28T00:00:00");
  EXPECT_EQ(decode("days since 2000-02-28", "standard", 1), "2000-02-29T00:00:00");
  EXPECT_EQ(decode("days since 2000-02-28", "standard", 2), "2000-03-01T00:00:00");
  EXPECT_EQ(decode("days since 1900-02-28", "gregorian", 1), "1900-03-01T00:00:00");  // 1900 not leap
  EXPECT_EQ(decode("days since 1500-02-28", "standard", 1), "1500-02-29T00:00:00");   // Julian era
}

TEST(Calendar, StandardSkipsTenDaysIn1582) {
  EXPECT_EQ(decode("days since 1582-10-04", "standard", 1), "1582-10-15T00:00:00");
  EXPECT_EQ(decode("days since 1582-10-04", "proleptic_gregorian", 1), "1582-10-05T00:00:00");
  EXPECT_THROW(TimeUnits::parse("days since 1582-10-10", "standard"), climseg::Error);
  EXPECT_NO_THROW(TimeUnits::parse("days since 1582-10-10", "julian"));
}

TEST(Calendar, ProlepticGregorianAndJulian) {
  EXPECT_EQ(decode("days since 1900-02-28", "proleptic_gregorian", 1), "1900-03-01T00:00:00");
  EXPECT_EQ(decode("days since 1500-02-28", "proleptic_gregorian", 1), "1500-03-01T00:00:00");
  EXPECT_EQ(decode("days since 1900-02-28", "julian", 1), "1900-02-29T00:00:00");
  EXPECT_EQ(decode("days since 2100-02-28", "julian", 1), "2100-02-29T00:00:00");
}

TEST(Calendar, NoleapAllLeapAnd360Day) {
  EXPECT_EQ(decode("days since 2000-02-28", "noleap", 1), "2000-03-01T00:00:00");
  EXPECT_EQ(decode("days since 2000-02-28", "365_day", 365), "2001-02-28T00:00:00");
  EXPECT_EQ(decode("days since 2001-02-28", "all_leap", 1), "2001-02-29T00:00:00");
  EXPECT_EQ(decode("days since 2001-02-28", "366_day", 2), "2001-03-01T00:00:00");
  EXPECT_EQ(decode("days since 2001-02-28", "360_day", 1), "2001-02-29T00:00:00");
  EXPECT_EQ(decode("days since 2001-02-28", "360_day", 2), "2001-02-30T00:00:00");
  EXPECT_EQ(decode("days since 2001-02-28", "360_day", 3), "2001-03-01T00:00:00");
  EXPECT_EQ(decode("days since 2001-01-01", "360_day", 360), "2002-01-01T00:00:00");
  EXPECT_THROW(TimeUnits::parse("days since 2001-02-29", "noleap"), climseg::Error);
}

TEST(Calendar, UnitsAndReferenceDates) {
  // The real files' first times, read with `ncdump -t`.
  EXPECT_EQ(decode("hours since 1900-01-01", "gregorian", 837420), "1995-07-14T12:00:00");  // ERA5
  EXPECT_EQ(decode("days since 1979-01-01 00:00:00", "", 13938), "2017-02-28T00:00:00");    // MERRA-2
  EXPECT_EQ(decode("days since 0000-1-1", "noleap", 730135.5), "2000-05-16T12:00:00");      // CCSM3
  EXPECT_EQ(decode("days since 1990-01-01T00:00:00Z", "", 9100.5), "2014-12-01T12:00:00");  // WW3
  EXPECT_EQ(decode("months since 1958-1-1 00:00:00", "", 13), "1959-02-01T00:00:00");       // geocat hgt
  EXPECT_EQ(decode("hours since 1996 01 05 00:00", "", 378), "1996-01-20T18:00:00");        // GEMPAK
  EXPECT_EQ(decode("seconds since 1970-01-01", "proleptic_gregorian", 86400.5), "1970-01-02T00:00:00.5");
  EXPECT_EQ(decode("minutes since 2000-01-01 23:00", "noleap", 90), "2000-01-02T00:30:00");
  EXPECT_EQ(decode("days since 2000-01-01", "standard", 0.125), "2000-01-01T03:00:00");
  EXPECT_EQ(decode("days since 2000-01-01", "standard", -1), "1999-12-31T00:00:00");
  EXPECT_EQ(decode("hours since 2000-01-01 00:00:00 +06:00", "standard", 0), "1999-12-31T18:00:00");
  EXPECT_EQ(decode("years since 2000-01-01", "360_day", 0.5), "2000-07-01T00:00:00");
  EXPECT_THROW(TimeUnits::parse("Month", ""), climseg::Error);
  EXPECT_THROW(TimeUnits::parse("fortnights since 2000-01-01", ""), climseg::Error);
  EXPECT_THROW(TimeUnits::parse("days since yesterday", ""), climseg::Error);
  // Values a damaged file may hold (fuzzing found 5.7e188 days): an error, not an overflow.
  try {
    (void)decode("days since 1800-01-01", "standard", 5.7e188);
    ADD_FAILURE() << "no error";
  } catch (const climseg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("time value 5.7e+188 in 'days since 1800-01-01' is out of range"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)decode("seconds since 2000-01-01", "noleap", -1e17), climseg::Error);
  EXPECT_THROW((void)decode("years since 2000-01-01", "360_day", 1e9), climseg::Error);
  EXPECT_EQ(decode("days since 2000-01-01", "noleap", 365e6), "1002000-01-01T00:00:00");  // still in range
}

TEST(Calendar, EncodeInvertsDecodeInEveryCalendar) {
  for (const char* cal : {"standard", "proleptic_gregorian", "noleap", "all_leap", "360_day", "julian"}) {
    for (const char* units : {"days since 1850-01-01", "hours since 2000-02-28 06:00:00", "seconds since 1970-01-01"}) {
      TimeUnits u = TimeUnits::parse(units, cal);
      for (double v : {0.0, 1.0, 59.25, 365.0, 366.5, 1461.0, 100000.0}) {
        DateTime d = u.decode(v);
        EXPECT_NEAR(u.encode(d), v, 1e-6 * std::max(1.0, v)) << cal << " " << units << " " << v;
      }
    }
  }
  TimeUnits months = TimeUnits::parse("months since 1958-01-01", "standard");
  EXPECT_EQ(months.encode(months.decode(229)), 229.0);
}

TEST(Calendar, DayNumbersAreConsecutiveAcrossYearEnds) {
  for (Calendar c : {Calendar::standard, Calendar::proleptic_gregorian, Calendar::noleap, Calendar::all_leap,
                     Calendar::day360, Calendar::julian}) {
    int64_t n = day_number(c, 1999, 1, 1);
    for (int64_t k = 0; k < 800; ++k) {
      DateTime d = date_from_day_number(c, n + k);
      EXPECT_EQ(day_number(c, d.year, d.month, d.day), n + k) << calendar_name(c);
    }
    EXPECT_EQ(day_number(c, 2000, 1, 1) - day_number(c, 1999, 1, 1), c == Calendar::day360     ? 360
                                                                     : c == Calendar::all_leap ? 366
                                                                                               : 365);
  }
}

TEST(Calendar, ParsesDateTexts) {
  EXPECT_EQ(parse_datetime("1996 01 05 00:00").iso(), "1996-01-05T00:00:00");
  EXPECT_EQ(parse_datetime("0000-1-1").iso(), "0000-01-01T00:00:00");
  EXPECT_EQ(parse_datetime("2014-12-01T12:30:15Z").iso(), "2014-12-01T12:30:15");
  EXPECT_EQ(parse_datetime("-0100-03-01").iso(), "-0100-03-01T00:00:00");
  EXPECT_THROW(parse_datetime("2000-13-01"), climseg::Error);
  EXPECT_THROW(parse_datetime("Jan 1979"), climseg::Error);
}

// proleptic_gregorian across real leap days: 2000 (divisible by 400) has Feb 29, 1900 (by 100, not
// 400) has none, 1600 has one. Expected dates from cftime 1.6.2 (num2date / date2num, calendar
// 'proleptic_gregorian'), and by hand: Jan has 31 days, so day 59 after Jan 1 is Feb 29 in a leap year.
TEST(Calendar, ProlepticGregorianAcrossTheLeapDays) {
  const char* pg = "proleptic_gregorian";
  EXPECT_TRUE(is_leap_year(Calendar::proleptic_gregorian, 2000));
  EXPECT_FALSE(is_leap_year(Calendar::proleptic_gregorian, 1900));
  EXPECT_TRUE(is_leap_year(Calendar::proleptic_gregorian, 1600));
  EXPECT_EQ(days_in_month(Calendar::proleptic_gregorian, 2000, 2), 29);
  EXPECT_EQ(days_in_month(Calendar::proleptic_gregorian, 1900, 2), 28);
  EXPECT_EQ(decode("days since 2000-01-01", pg, 59), "2000-02-29T00:00:00");
  EXPECT_EQ(decode("days since 2000-01-01", pg, 60), "2000-03-01T00:00:00");
  EXPECT_EQ(decode("days since 2000-01-01", pg, 366), "2001-01-01T00:00:00");
  EXPECT_EQ(decode("hours since 2000-02-28 12:00", pg, 12), "2000-02-29T00:00:00");
  EXPECT_EQ(decode("hours since 2000-02-28 12:00", pg, 36), "2000-03-01T00:00:00");
  EXPECT_EQ(decode("days since 0001-01-01", pg, 730178), "2000-02-29T00:00:00");
  EXPECT_EQ(decode("days since 1900-01-01", pg, 58), "1900-02-28T00:00:00");
  EXPECT_EQ(decode("days since 1900-01-01", pg, 59), "1900-03-01T00:00:00");
  EXPECT_EQ(decode("minutes since 1899-12-31", pg, 86400), "1900-03-01T00:00:00");
  EXPECT_EQ(decode("days since 1600-02-28", pg, 1), "1600-02-29T00:00:00");
  // date2num: 2000-02-28 to 2000-03-01 is 2 days, 1900-02-28 to 1900-03-01 is 1.
  EXPECT_EQ(
      day_number(Calendar::proleptic_gregorian, 2000, 3, 1) - day_number(Calendar::proleptic_gregorian, 2000, 2, 28),
      2);
  EXPECT_EQ(
      day_number(Calendar::proleptic_gregorian, 1900, 3, 1) - day_number(Calendar::proleptic_gregorian, 1900, 2, 28),
      1);
  EXPECT_NO_THROW(TimeUnits::parse("days since 2000-02-29", pg));
  EXPECT_THROW(TimeUnits::parse("days since 1900-02-29", pg), climseg::Error);
}

// Units TimeUnits reads that CF does not spell so are respelled by writers (issue 16 item 2).
TEST(Calendar, CfSpellingOfTimeUnits) {
  EXPECT_TRUE(cf_time_units_text("days since 2000-01-01"));
  EXPECT_TRUE(cf_time_units_text("hours since 1900-01-01 00:00:00.0"));
  EXPECT_TRUE(cf_time_units_text("seconds since 1970-1-1T00:00:00Z"));
  EXPECT_TRUE(cf_time_units_text("days since 0000-1-1"));
  EXPECT_TRUE(cf_time_units_text("months since 1958-1-1 00:00:00"));
  EXPECT_TRUE(cf_time_units_text("hours since 2000-01-01 06:30:00 +01:00"));
  EXPECT_FALSE(cf_time_units_text("hours since 1996 01 05 00:00"));
  EXPECT_FALSE(cf_time_units_text("hours since 2000 1 1 0:0"));
  EXPECT_FALSE(cf_time_units_text("Month"));
  EXPECT_FALSE(cf_time_units_text("days after 2000-01-01"));
  EXPECT_EQ(TimeUnits::parse("hours since 1996 01 05 00:00").cf_text(), "hours since 1996-01-05 00:00:00");
  EXPECT_EQ(TimeUnits::parse("d since 2000-1-1 6:30 +01:00").cf_text(), "days since 2000-01-01 05:30:00");
  EXPECT_EQ(TimeUnits::parse("months since 0001-01-01").cf_text(), "months since 0001-01-01 00:00:00");
}
