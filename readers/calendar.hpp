// CF calendars and time units: dates in every CF calendar, decoding "UNIT since DATE" time values
// into dates and encoding them back (writers use the same units and calendar as their input).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace climseg::io {

// The CF calendars. `standard` (alias gregorian) is Julian before 1582-10-15 and Gregorian from
// then on (1582-10-05..14 do not exist); the others are one rule for all time. Years are counted
// astronomically (year 0 exists, the year before it is -1) in every calendar.
enum class Calendar { standard, proleptic_gregorian, noleap, all_leap, day360, julian };

// Accepts every CF spelling, case-insensitive: standard, gregorian, proleptic_gregorian, noleap,
// 365_day, all_leap, 366_day, 360_day, julian. An empty name means standard (the CF default).
// Throws Error for anything else (including "none").
Calendar parse_calendar(std::string_view name);
// The canonical CF name: "standard", "proleptic_gregorian", "noleap", "all_leap", "360_day", "julian".
const char* calendar_name(Calendar calendar);
bool is_leap_year(Calendar calendar, int64_t year);
int days_in_month(Calendar calendar, int64_t year, int month);

// A date and time of day in some calendar (the calendar is kept beside it, not inside it).
struct DateTime {
  int64_t year = 1970;
  int month = 1;        // 1..12
  int day = 1;          // 1..days_in_month
  int hour = 0;         // 0..23
  int minute = 0;       // 0..59
  double second = 0.0;  // [0, 60)

  // "2000-02-29T12:00:00"; fractional seconds only when present ("...T00:00:01.5").
  std::string iso() const;
  auto operator<=>(const DateTime&) const = default;
};

// A consecutive day count for the calendar (its origin is arbitrary but fixed per calendar), and
// back. Throws Error for dates that do not exist in the calendar (2001-02-29 noleap, 1582-10-10
// standard, 02-31 in 360_day...).
int64_t day_number(Calendar calendar, int64_t year, int month, int day);
DateTime date_from_day_number(Calendar calendar, int64_t number);
// Throws Error naming `what` when the date does not exist in the calendar.
void check_date(Calendar calendar, const DateTime& date, std::string_view what = {});

// Parses "1979-01-01", "0000-1-1", "1979-01-01 00:00:00", "1990-01-01T00:00:00Z", "1996 01 05 00:00",
// "2000-01-01 06:30:00.5 +01:00". A time zone offset is applied (the result is UTC).
// Throws Error naming the text when it is not a date.
DateTime parse_datetime(std::string_view text);

enum class TimeUnit { seconds, minutes, hours, days, months, years };

// CF time units "UNIT since DATE" with a calendar: what a time coordinate's numbers mean.
struct TimeUnits {
  TimeUnit unit = TimeUnit::days;
  DateTime epoch;
  Calendar calendar = Calendar::standard;
  std::string text;  // the units attribute as written

  // Throws Error for units that are not "UNIT since DATE" or a calendar that is not CF.
  static TimeUnits parse(std::string_view units, std::string_view calendar = {});
  // Seconds in one unit; months and years use the UDUNITS lengths (year = 365.242198781 days)
  // except in 360_day (30 and 360 days).
  double seconds_per_unit() const;
  // Value → date. Whole numbers of months or years step calendar months (as NCL and CDO read
  // "months since 1958-1-1"); fractions use seconds_per_unit(). Rounded to the microsecond.
  DateTime decode(double value) const;
  // Date → value (the inverse of decode for dates on the axis).
  double encode(const DateTime& date) const;
  // The same units spelled as CF writes them: "hours since 1996-01-05 00:00:00" (UTC).
  std::string cf_text() const;
};

// True when time units are spelled as CF (UDUNITS) spells a time reference: "UNIT since Y-M-D" with
// optional "[ T]h:m[:s[.f]]" and time zone. TimeUnits::parse reads more than that (GEMPAK's
// "hours since 1996 01 05 00:00"), which cdo and xarray may read otherwise: writers respell it.
bool cf_time_units_text(std::string_view units);

// Seconds from a to b (negative when b is earlier) in a calendar.
double seconds_between(Calendar calendar, const DateTime& a, const DateTime& b);
// The date `seconds` after `date` (rounded to the microsecond).
DateTime add_seconds(Calendar calendar, const DateTime& date, double seconds);

}  // namespace climseg::io
