// CF calendars and time units.
#include "readers/calendar.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <vector>

#include "core/error.hpp"

namespace climseg::io {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool gregorian_leap(int64_t y) { return (floor_div(y, 4) * 4 == y) && (y % 100 != 0 || floor_div(y, 400) * 400 == y); }
bool julian_leap(int64_t y) { return floor_div(y, 4) * 4 == y; }

// Julian day numbers (days since -4712-01-01 Julian), Fliegel & Van Flandern / Richards.
int64_t jdn_gregorian(int64_t y, int m, int d) {
  int64_t a = (14 - m) / 12, yy = y + 4800 - a, mm = m + 12 * a - 3;
  return d + (153 * mm + 2) / 5 + 365 * yy + floor_div(yy, 4) - floor_div(yy, 100) + floor_div(yy, 400) - 32045;
}
int64_t jdn_julian(int64_t y, int m, int d) {
  int64_t a = (14 - m) / 12, yy = y + 4800 - a, mm = m + 12 * a - 3;
  return d + (153 * mm + 2) / 5 + 365 * yy + floor_div(yy, 4) - 32083;
}
DateTime from_jdn(int64_t jdn, bool gregorian) {
  int64_t b = 0, c = 0;
  if (gregorian) {
    int64_t a = jdn + 32044;
    b = floor_div(4 * a + 3, 146097);
    c = a - floor_div(146097 * b, 4);
  } else {
    c = jdn + 32082;
  }
  int64_t d = floor_div(4 * c + 3, 1461);
  int64_t e = c - floor_div(1461 * d, 4);
  int64_t m = (5 * e + 2) / 153;
  DateTime out;
  out.day = static_cast<int>(e - (153 * m + 2) / 5 + 1);
  out.month = static_cast<int>(m + 3 - 12 * (m / 10));
  out.year = 100 * b + d - 4800 + m / 10;
  return out;
}

// The first Gregorian day of the standard calendar, 1582-10-15.
constexpr int64_t kGregorianStartJdn = 2299161;

constexpr std::array<int, 12> kMonthDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

int64_t days_before_month(bool leap, int month) {
  int64_t n = 0;
  for (int m = 1; m < month; ++m) n += kMonthDays[static_cast<size_t>(m - 1)] + (m == 2 && leap ? 1 : 0);
  return n;
}

DateTime from_fixed_year(int64_t number, int year_days, bool leap) {
  DateTime out;
  out.year = floor_div(number, year_days);
  int64_t rest = number - out.year * year_days;
  int month = 1;
  while (month < 12) {
    int64_t len = kMonthDays[static_cast<size_t>(month - 1)] + (month == 2 && leap ? 1 : 0);
    if (rest < len) break;
    rest -= len;
    ++month;
  }
  out.month = month;
  out.day = static_cast<int>(rest + 1);
  return out;
}

// Splits seconds into whole days and seconds of the day, rounded to the microsecond.
void split_seconds(double seconds, int64_t& days, double& sod) {
  double d = std::floor(seconds / 86400.0);
  sod = seconds - d * 86400.0;
  sod = std::round(sod * 1e6) / 1e6;
  if (sod >= 86400.0) {
    d += 1;
    sod -= 86400.0;
  }
  if (sod < 0) sod = 0;
  days = static_cast<int64_t>(d);
}

double seconds_of_day(const DateTime& t) { return t.hour * 3600.0 + t.minute * 60.0 + t.second; }

void set_time_of_day(DateTime& t, double sod) {
  t.hour = static_cast<int>(sod / 3600.0);
  sod -= t.hour * 3600.0;
  t.minute = static_cast<int>(sod / 60.0);
  t.second = sod - t.minute * 60.0;
  if (t.second < 0) t.second = 0;
}

// Steps calendar months from a date; the day is kept, clamped to the month's length.
DateTime add_months(Calendar cal, const DateTime& d, int64_t months) {
  DateTime out = d;
  int64_t total = d.year * 12 + (d.month - 1) + months;
  out.year = floor_div(total, 12);
  out.month = static_cast<int>(total - out.year * 12) + 1;
  out.day = std::min(out.day, days_in_month(cal, out.year, out.month));
  return out;
}

}  // namespace

Calendar parse_calendar(std::string_view name) {
  std::string n = lower(trim(name));
  if (n.empty() || n == "standard" || n == "gregorian") return Calendar::standard;
  if (n == "proleptic_gregorian") return Calendar::proleptic_gregorian;
  if (n == "noleap" || n == "365_day") return Calendar::noleap;
  if (n == "all_leap" || n == "366_day") return Calendar::all_leap;
  if (n == "360_day") return Calendar::day360;
  if (n == "julian") return Calendar::julian;
  fail(
      "unknown calendar '{}' (CF calendars: standard, gregorian, proleptic_gregorian, noleap, 365_day, all_leap, "
      "366_day, 360_day, julian)",
      name);
}

const char* calendar_name(Calendar calendar) {
  switch (calendar) {
    case Calendar::standard:
      return "standard";
    case Calendar::proleptic_gregorian:
      return "proleptic_gregorian";
    case Calendar::noleap:
      return "noleap";
    case Calendar::all_leap:
      return "all_leap";
    case Calendar::day360:
      return "360_day";
    case Calendar::julian:
      return "julian";
  }
  return "standard";
}

bool is_leap_year(Calendar calendar, int64_t year) {
  switch (calendar) {
    case Calendar::standard:
      return year < 1582 ? julian_leap(year) : gregorian_leap(year);
    case Calendar::proleptic_gregorian:
      return gregorian_leap(year);
    case Calendar::julian:
      return julian_leap(year);
    case Calendar::all_leap:
      return true;
    case Calendar::noleap:
    case Calendar::day360:
      return false;
  }
  return false;
}

int days_in_month(Calendar calendar, int64_t year, int month) {
  if (month < 1 || month > 12) return 0;
  if (calendar == Calendar::day360) return 30;
  return kMonthDays[static_cast<size_t>(month - 1)] + (month == 2 && is_leap_year(calendar, year) ? 1 : 0);
}

void check_date(Calendar calendar, const DateTime& d, std::string_view what) {
  const std::string where = what.empty() ? std::string() : std::string(what) + ": ";
  bool ok = d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= days_in_month(calendar, d.year, d.month) &&
            d.hour >= 0 && d.hour < 24 && d.minute >= 0 && d.minute < 60 && d.second >= 0 && d.second < 61;
  if (ok && calendar == Calendar::standard && d.year == 1582 && d.month == 10 && d.day > 4 && d.day < 15) ok = false;
  if (!ok)
    fail("{}date {:04}-{:02}-{:02} {:02}:{:02}:{:02} does not exist in the {} calendar", where, d.year, d.month, d.day,
         d.hour, d.minute, d.second, calendar_name(calendar));
}

int64_t day_number(Calendar calendar, int64_t year, int month, int day) {
  DateTime d;
  d.year = year;
  d.month = month;
  d.day = day;
  check_date(calendar, d);
  switch (calendar) {
    case Calendar::standard:
      return (year > 1582 || (year == 1582 && (month > 10 || (month == 10 && day >= 15))))
                 ? jdn_gregorian(year, month, day)
                 : jdn_julian(year, month, day);
    case Calendar::proleptic_gregorian:
      return jdn_gregorian(year, month, day);
    case Calendar::julian:
      return jdn_julian(year, month, day);
    case Calendar::noleap:
      return 365 * year + days_before_month(false, month) + day - 1;
    case Calendar::all_leap:
      return 366 * year + days_before_month(true, month) + day - 1;
    case Calendar::day360:
      return 360 * year + 30 * (month - 1) + day - 1;
  }
  return 0;
}

DateTime date_from_day_number(Calendar calendar, int64_t number) {
  switch (calendar) {
    case Calendar::standard:
      return from_jdn(number, number >= kGregorianStartJdn);
    case Calendar::proleptic_gregorian:
      return from_jdn(number, true);
    case Calendar::julian:
      return from_jdn(number, false);
    case Calendar::noleap:
      return from_fixed_year(number, 365, false);
    case Calendar::all_leap:
      return from_fixed_year(number, 366, true);
    case Calendar::day360: {
      DateTime out;
      out.year = floor_div(number, 360);
      int64_t rest = number - out.year * 360;
      out.month = static_cast<int>(rest / 30) + 1;
      out.day = static_cast<int>(rest % 30) + 1;
      return out;
    }
  }
  return {};
}

std::string DateTime::iso() const {
  std::string date = year < 0 ? fmt::format("-{:04}-{:02}-{:02}", -year, month, day)
                              : fmt::format("{:04}-{:02}-{:02}", year, month, day);
  double whole = std::round(second);
  if (std::abs(second - whole) < 1e-3) return fmt::format("{}T{:02}:{:02}:{:02}", date, hour, minute, int(whole));
  std::string frac = fmt::format("{:09.6f}", second);
  while (frac.back() == '0') frac.pop_back();
  return fmt::format("{}T{:02}:{:02}:{}", date, hour, minute, frac);
}

DateTime parse_datetime(std::string_view text) {
  std::string_view s = trim(text);
  auto bad = [&]() -> DateTime { fail("'{}' is not a date (expected YYYY-MM-DD [hh:mm:ss] [time zone])", text); };
  if (s.empty()) return bad();
  size_t i = 0;
  bool negative = false;
  if (s[i] == '-' || s[i] == '+') {
    negative = s[i] == '-';
    ++i;
  }
  // Fields: year, month, day, hour, minute, second, separated by '-', ' ', 'T', ':'.
  std::vector<std::string> fields;
  std::string zone;
  while (i < s.size() && fields.size() < 6) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return bad();
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (fields.size() == 5 && s[i] == '.'))) ++i;
    fields.emplace_back(s.substr(start, i - start));
    if (i >= s.size()) break;
    char sep = s[i];
    size_t n = fields.size();
    bool date_sep = n < 3 && (sep == '-' || sep == ' ' || sep == '/');
    bool date_time_sep = n == 3 && (sep == ' ' || sep == 'T' || sep == 't');
    bool time_sep = n > 3 && n < 6 && sep == ':';
    if (date_sep || date_time_sep || time_sep) {
      ++i;
      while (n == 3 && i < s.size() && s[i] == ' ') ++i;
      continue;
    }
    break;
  }
  zone = std::string(trim(s.substr(i)));
  if (fields.size() < 3) return bad();
  DateTime d;
  try {
    d.year = std::stoll(fields[0]) * (negative ? -1 : 1);
    d.month = std::stoi(fields[1]);
    d.day = std::stoi(fields[2]);
    if (fields.size() > 3) d.hour = std::stoi(fields[3]);
    if (fields.size() > 4) d.minute = std::stoi(fields[4]);
    if (fields.size() > 5) d.second = std::stod(fields[5]);
  } catch (const std::exception&) {
    return bad();
  }
  double offset_minutes = 0;
  if (!zone.empty()) {
    std::string z = lower(zone);
    if (z == "z" || z == "utc" || z == "gmt") {
    } else if (z[0] == '+' || z[0] == '-') {
      std::string digits;
      for (char c : z.substr(1))
        if (std::isdigit(static_cast<unsigned char>(c)))
          digits += c;
        else if (c != ':')
          return bad();
      if (digits.empty() || digits.size() > 4) return bad();
      int hh = 0, mm = 0;
      if (digits.size() <= 2) {
        hh = std::stoi(digits);
      } else {
        hh = std::stoi(digits.substr(0, digits.size() - 2));
        mm = std::stoi(digits.substr(digits.size() - 2));
      }
      offset_minutes = (z[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    } else {
      return bad();
    }
  }
  if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > 31 || d.hour > 23 || d.minute > 59 || d.second >= 61)
    return bad();
  if (offset_minutes != 0) {
    // The offset moves the clock; a carried day is counted in the proleptic Gregorian calendar.
    double sod = seconds_of_day(d) - offset_minutes * 60.0;
    int64_t carry = static_cast<int64_t>(std::floor(sod / 86400.0));
    sod -= static_cast<double>(carry) * 86400.0;
    set_time_of_day(d, sod);
    if (carry != 0) {
      DateTime moved =
          date_from_day_number(Calendar::proleptic_gregorian, jdn_gregorian(d.year, d.month, d.day) + carry);
      d.year = moved.year;
      d.month = moved.month;
      d.day = moved.day;
    }
  }
  return d;
}

TimeUnits TimeUnits::parse(std::string_view units, std::string_view calendar) {
  TimeUnits u;
  u.text = std::string(units);
  u.calendar = parse_calendar(calendar);
  std::string s = lower(trim(units));
  size_t since = s.find(" since ");
  if (since == std::string::npos)
    fail("time units '{}' are not CF time units ('UNIT since DATE', e.g. 'days since 2000-01-01')", units);
  std::string word(trim(std::string_view(s).substr(0, since)));
  if (word == "s" || word == "sec" || word == "secs" || word == "second" || word == "seconds")
    u.unit = TimeUnit::seconds;
  else if (word == "min" || word == "mins" || word == "minute" || word == "minutes")
    u.unit = TimeUnit::minutes;
  else if (word == "h" || word == "hr" || word == "hrs" || word == "hour" || word == "hours")
    u.unit = TimeUnit::hours;
  else if (word == "d" || word == "day" || word == "days")
    u.unit = TimeUnit::days;
  else if (word == "month" || word == "months")
    u.unit = TimeUnit::months;
  else if (word == "year" || word == "years" || word == "yr")
    u.unit = TimeUnit::years;
  else
    fail("time units '{}': unknown unit '{}' (seconds, minutes, hours, days, months, years)", units, word);
  try {
    u.epoch = parse_datetime(std::string_view(units).substr(since + 7));
    check_date(u.calendar, u.epoch, fmt::format("time units '{}'", units));
  } catch (const Error& e) {
    fail("time units '{}': {}", units, e.what());
  }
  return u;
}

std::string TimeUnits::cf_text() const {
  static const char* names[] = {"seconds", "minutes", "hours", "days", "months", "years"};
  const double whole = std::floor(epoch.second);
  const std::string sec =
      epoch.second == whole ? fmt::format("{:02.0f}", whole) : fmt::format("{:09.6f}", epoch.second);
  return fmt::format("{} since {}{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{}", names[static_cast<int>(unit)],
                     epoch.year < 0 ? "-" : "", epoch.year < 0 ? -epoch.year : epoch.year, epoch.month, epoch.day,
                     epoch.hour, epoch.minute, sec);
}

bool cf_time_units_text(std::string_view units) {
  // UNIT since [+-]Y-M-D[( |T)h:m[:s[.f]]][ ][zone], read by hand (std::regex is avoided in the
  // libraries: GCC 12 warns falsely on it in sanitizer builds).
  std::string_view s = trim(units);
  size_t i = 0;
  auto digits = [&](size_t max) {
    size_t n = 0;
    while (i < s.size() && n < max && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++n;
    return n > 0;
  };
  auto eat = [&](char c) {
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  };
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return false;
  const std::string_view rest = s.substr(i);
  const std::string lowered = lower(std::string(rest.substr(0, std::min<size_t>(7, rest.size()))));
  if (lowered != " since ") return false;
  i += 7;
  while (i < s.size() && s[i] == ' ') ++i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (!(digits(19) && eat('-') && digits(2) && eat('-') && digits(2))) return false;
  if (i < s.size() && (s[i] == ' ' || s[i] == 'T') && i + 1 < s.size() &&
      std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
    ++i;
    if (!(digits(2) && eat(':') && digits(2))) return false;
    if (eat(':')) {
      if (!digits(2)) return false;
      if (eat('.')) digits(19);
    }
  }
  while (i < s.size() && s[i] == ' ') ++i;
  if (i == s.size()) return true;
  const std::string zone = lower(std::string(s.substr(i)));
  if (zone == "z" || zone == "utc" || zone == "gmt") return true;
  if (zone[0] != '+' && zone[0] != '-') return false;
  ++i;
  if (!digits(2)) return false;
  eat(':');
  digits(2);
  return i == s.size();
}

double TimeUnits::seconds_per_unit() const {
  constexpr double kYearDays = 365.242198781;
  switch (unit) {
    case TimeUnit::seconds:
      return 1.0;
    case TimeUnit::minutes:
      return 60.0;
    case TimeUnit::hours:
      return 3600.0;
    case TimeUnit::days:
      return 86400.0;
    case TimeUnit::months:
      return calendar == Calendar::day360 ? 30 * 86400.0 : kYearDays / 12.0 * 86400.0;
    case TimeUnit::years:
      return calendar == Calendar::day360 ? 360 * 86400.0 : kYearDays * 86400.0;
  }
  return 1.0;
}

double seconds_between(Calendar calendar, const DateTime& a, const DateTime& b) {
  int64_t days = day_number(calendar, b.year, b.month, b.day) - day_number(calendar, a.year, a.month, a.day);
  return static_cast<double>(days) * 86400.0 + (seconds_of_day(b) - seconds_of_day(a));
}

DateTime add_seconds(Calendar calendar, const DateTime& date, double seconds) {
  int64_t days = 0;
  double sod = 0;
  split_seconds(seconds_of_day(date) + seconds, days, sod);
  DateTime out = date_from_day_number(calendar, day_number(calendar, date.year, date.month, date.day) + days);
  set_time_of_day(out, sod);
  return out;
}

DateTime TimeUnits::decode(double value) const {
  if (!std::isfinite(value)) fail("time value {} cannot be decoded with units '{}'", value, text);
  if ((unit == TimeUnit::months || unit == TimeUnit::years) && value == std::floor(value) &&
      std::abs(value) < (unit == TimeUnit::years ? 1e8 : 1e9)) {  // years that fit an int
    auto whole = static_cast<int64_t>(value);
    return add_months(calendar, epoch, unit == TimeUnit::years ? whole * 12 : whole);
  }
  const double seconds = value * seconds_per_unit();
  // 1e16 s is 317 million years: beyond that the day count overflows long before any calendar
  // means anything (fuzzing found 5.7e188 days).
  if (!(std::abs(seconds) < 1e16))
    fail("time value {} in '{}' is out of range (more than 300 million years from the epoch)", value, text);
  return add_seconds(calendar, epoch, seconds);
}

double TimeUnits::encode(const DateTime& date) const {
  if (unit == TimeUnit::months || unit == TimeUnit::years) {
    // Whole calendar months from the epoch when the day and time match it (see decode).
    int64_t months = (date.year - epoch.year) * 12 + (date.month - epoch.month);
    if (add_months(calendar, epoch, months) == date) {
      if (unit == TimeUnit::months) return static_cast<double>(months);
      if (months % 12 == 0) return static_cast<double>(months / 12);
    }
  }
  return seconds_between(calendar, epoch, date) / seconds_per_unit();
}

}  // namespace climseg::io
