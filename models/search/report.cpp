// The search table and its pictures (drawn with the analysis library's raster Image).
#include "models/search/report.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/plot.hpp"
#include "core/error.hpp"

namespace climseg::search {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return q + "\"";
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// ---- a small chart: axes, ticks and labels around a plot area

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<std::string> categories;  // non-empty: one column per category
};

std::vector<double> nice_ticks(double lo, double hi) {
  const double span = hi - lo;
  if (!(span > 0)) return {lo};
  const double raw = span / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step)
    t.push_back(std::abs(v) < 1e-12 ? 0 : v);
  return t;
}

std::string tick_text(double v) {
  if (v != 0 && (std::abs(v) < 1e-3 || std::abs(v) >= 1e5)) return fmt::format("{:.0e}", v);
  return fmt::format("{:g}", v);
}

class Chart {
 public:
  Chart(Axis x, Axis y, const std::string& title, const std::string& xlabel, const std::string& ylabel)
      : img_(kWidth, kHeight), x_(std::move(x)), y_(std::move(y)) {
    img_.text(kWidth / 2, 26, title, plot::kBlack, plot::TextSize::large, plot::Anchor::centre);
    img_.rect(kLeft, kTop, kWidth - kRight, kHeight - kBottom, plot::kBlack);
    img_.text(kLeft + width() / 2, kHeight - 14, xlabel, plot::kBlack, plot::TextSize::small, plot::Anchor::centre);
    img_.text_vertical(16, kTop + height() / 2, ylabel, plot::kBlack);
    for (double v : nice_ticks(y_.lo, y_.hi)) {
      const double py = py_of(v);
      img_.line(kLeft - 4, py, kLeft, py, plot::kBlack);
      img_.line(kLeft + 1, py, kWidth - kRight - 1, py, plot::Rgb{225, 225, 225});
      img_.text(kLeft - 7, static_cast<int>(py) + 4, tick_text(v), plot::kBlack, plot::TextSize::small,
                plot::Anchor::right);
    }
    if (!x_.categories.empty()) {
      for (size_t i = 0; i < x_.categories.size(); ++i) x_tick(static_cast<double>(i), x_.categories[i].substr(0, 18));
    } else if (x_.log) {
      const double a = std::log10(x_.lo), b = std::log10(x_.hi);
      const bool fine = b - a < 1.5;  // less than a decade and a half: 1, 2, 5 in each decade
      for (int e = static_cast<int>(std::floor(a)); e <= static_cast<int>(std::ceil(b)); ++e)
        for (double m : {1.0, 2.0, 5.0}) {
          if (m != 1.0 && !fine) continue;
          const double v = m * std::pow(10.0, e);
          if (v >= x_.lo * (1 - 1e-9) && v <= x_.hi * (1 + 1e-9)) x_tick(v, tick_text(v));
        }
    } else {
      for (double v : nice_ticks(x_.lo, x_.hi)) x_tick(v, tick_text(v));
    }
  }

  double px_of(double v) const {
    double t;
    if (!x_.categories.empty())
      t = (v + 0.5) / static_cast<double>(x_.categories.size());
    else if (x_.log)
      t = (std::log10(v) - std::log10(x_.lo)) / std::max(1e-12, std::log10(x_.hi) - std::log10(x_.lo));
    else
      t = (v - x_.lo) / std::max(1e-300, x_.hi - x_.lo);
    return kLeft + 10 + t * (width() - 20);
  }
  double py_of(double v) const {
    const double t = (v - y_.lo) / std::max(1e-300, y_.hi - y_.lo);
    return kHeight - kBottom - t * height();
  }
  plot::Image& image() { return img_; }
  // A cross below the plot area's floor: a failed trial at x.
  void failed_mark(double x) {
    const double px = px_of(x), py = kHeight - kBottom - 8;
    img_.line(px - 4, py - 4, px + 4, py + 4, plot::Rgb{200, 30, 30}, 1.5);
    img_.line(px - 4, py + 4, px + 4, py - 4, plot::Rgb{200, 30, 30}, 1.5);
  }
  // Legend entries in a row between the title and the plot area (never over a point).
  void legend(int row, plot::Rgb c, const std::string& text) {
    const int x = kLeft + 10 + 160 * row, y = kTop - 10;
    img_.disc(x, y - 4, 4, c);
    img_.text(x + 10, y, text, plot::kBlack);
  }

 private:
  static constexpr int kWidth = 800, kHeight = 520, kLeft = 72, kRight = 20, kTop = 64, kBottom = 56;
  int width() const { return kWidth - kLeft - kRight; }
  int height() const { return kHeight - kTop - kBottom; }
  void x_tick(double v, const std::string& label) {
    const double px = px_of(v);
    img_.line(px, kHeight - kBottom, px, kHeight - kBottom + 4, plot::kBlack);
    img_.text(static_cast<int>(px), kHeight - kBottom + 18, label, plot::kBlack, plot::TextSize::small,
              plot::Anchor::centre);
  }
  plot::Image img_;
  Axis x_, y_;
};

Axis metric_axis(const std::vector<double>& values) {
  double hi = 0;
  for (double v : values)
    if (std::isfinite(v)) hi = std::max(hi, v);
  return Axis{0, hi > 0 ? std::min(1.0, hi * 1.15) : 1.0, false, {}};
}

plot::Rgb rung_colour(int rung, int rungs) { return plot::viridis(rungs > 1 ? 0.85 * rung / double(rungs - 1) : 0.45); }

std::string file_key(const std::string& key) {
  std::string s = key;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  return s;
}

}  // namespace

json trial_row(const Plan& plan, const Trial& t, const SearchConfig& config) {
  const Bracket& b = plan.brackets()[static_cast<size_t>(t.bracket)];
  json values = json::object();
  for (const std::string& k : config.space.searched_keys()) values[k] = t.values.at(k);
  json metric = json::object(), groups = json::array();
  double wall = 0;
  std::string message;
  for (size_t k = 0; k < t.rungs.size(); ++k) {
    if (!t.rungs[k]) continue;
    const RungResult& r = *t.rungs[k];
    metric[std::to_string(b.budgets[k])] = finite_or_null(r.metric);
    groups.push_back(r.group);
    wall += r.wall_s;
    if (!r.message.empty()) message = r.message;
  }
  const int last = t.last_result();
  return {{"trial", t.id},
          {"bracket", t.bracket},
          {"status", plan.status(t)},
          {"values", values},
          {"metric", metric},
          {"final_metric", last >= 0 ? finite_or_null(t.rungs[static_cast<size_t>(last)]->metric) : json(nullptr)},
          {"steps", last >= 0 ? t.rungs[static_cast<size_t>(last)]->steps : 0},
          {"wall_s", wall},
          {"groups", groups},
          {"message", message}};
}

std::string table_csv(const Plan& plan, const SearchConfig& config) {
  const std::vector<std::string> keys = config.space.searched_keys();
  const std::vector<int64_t> budgets = plan.budgets();
  std::string out = "trial,bracket,status";
  for (const std::string& k : keys) out += fmt::format(",{}", csv_field(k));
  for (int64_t b : budgets) out += fmt::format(",metric@{}", b);
  out += ",final_metric,steps,wall_s,groups,message\n";
  for (const Trial& t : plan.trials()) {
    const json row = trial_row(plan, t, config);
    out += fmt::format("{},{},{}", t.id, t.bracket, row["status"].get<std::string>());
    for (const std::string& k : keys) out += fmt::format(",{}", csv_field(value_text(row["values"][k])));
    for (int64_t b : budgets) {
      const std::string key = std::to_string(b);
      out += ",";
      if (row["metric"].contains(key) && row["metric"][key].is_number())
        out += fmt::format("{:.6f}", row["metric"][key].get<double>());
    }
    out += ",";
    if (row["final_metric"].is_number()) out += fmt::format("{:.6f}", row["final_metric"].get<double>());
    std::string groups;
    for (const json& g : row["groups"]) groups += fmt::format("{}{}", groups.empty() ? "" : ";", g.dump());
    out += fmt::format(",{},{:.2f},{},{}\n", row["steps"].get<int64_t>(), row["wall_s"].get<double>(), groups,
                       csv_field(row["message"].get<std::string>()));
  }
  return out;
}

std::string table_jsonl(const Plan& plan, const SearchConfig& config) {
  std::string out;
  for (const Trial& t : plan.trials()) out += trial_row(plan, t, config).dump() + "\n";
  return out;
}

int write_plots(const Plan& plan, const SearchConfig& config, const fs::path& dir) {
  fs::create_directories(dir);
  int written = 0;
  int max_rungs = 1;
  for (const Bracket& b : plan.brackets()) max_rungs = std::max(max_rungs, static_cast<int>(b.budgets.size()));
  std::vector<double> finals;
  for (const Trial& t : plan.trials())
    if (t.last_result() >= 0) finals.push_back(t.rungs[static_cast<size_t>(t.last_result())]->metric);
  const std::string ylabel = "validation " + config.metric.describe();

  // Metric at each trial's last rung against each searched parameter.
  for (const Parameter& p : config.space.parameters()) {
    if (!p.searched()) continue;
    Axis x;
    auto position = [&](const json& v) -> double {
      if (p.kind == Parameter::Kind::choices) {
        for (size_t i = 0; i < p.values.size(); ++i)
          if (p.values[i] == v) return static_cast<double>(i);
        return 0;
      }
      return v.get<double>();
    };
    if (p.kind == Parameter::Kind::choices) {
      for (const json& v : p.values) x.categories.push_back(value_text(v));
    } else {
      x.lo = p.low;
      x.hi = p.high > p.low ? p.high : p.low + 1;
      x.log = p.kind == Parameter::Kind::log_uniform;
    }
    Chart chart(x, metric_axis(finals), ylabel + " vs " + p.key, p.key + (x.log ? " (log scale)" : ""), ylabel);
    for (int r = 0; r < max_rungs && max_rungs > 1; ++r)
      chart.legend(r, rung_colour(r, max_rungs), fmt::format("last rung {}", r));
    for (const Trial& t : plan.trials()) {
      const int k = t.last_result();
      if (k < 0) continue;
      const RungResult& res = *t.rungs[static_cast<size_t>(k)];
      const double xv = position(t.values.at(p.key));
      if (res.failed || !std::isfinite(res.metric)) {
        chart.failed_mark(xv);
        continue;
      }
      chart.image().disc(chart.px_of(xv), chart.py_of(res.metric), k == max_rungs - 1 ? 5.0 : 3.5,
                         rung_colour(k, max_rungs));
    }
    chart.image().write_png(dir / ("metric_vs_" + file_key(p.key) + ".png"));
    ++written;
  }

  // Rungs: metric against steps, one line per trial.
  const std::vector<int64_t> budgets = plan.budgets();
  Axis x{static_cast<double>(budgets.front()), static_cast<double>(budgets.back()), false, {}};
  if (budgets.size() > 1 && x.hi / x.lo >= 4) x.log = true;
  if (budgets.size() == 1) x = Axis{0, 0, false, {std::to_string(budgets.front())}};
  std::vector<double> all;
  for (const Trial& t : plan.trials())
    for (const auto& r : t.rungs)
      if (r) all.push_back(r->metric);
  Chart chart(x, metric_axis(all), "rungs: " + ylabel + " per trial", "optimizer steps", ylabel);
  auto xpos = [&](int64_t steps) { return budgets.size() == 1 ? 0.0 : static_cast<double>(steps); };
  for (const Trial& t : plan.trials()) {
    const Bracket& b = plan.brackets()[static_cast<size_t>(t.bracket)];
    const bool completed = plan.status(t) == "completed";
    const plot::Rgb c = completed ? plot::viridis(0.8) : plot::Rgb{150, 150, 170};
    double px = -1, py = -1;
    for (size_t k = 0; k < t.rungs.size(); ++k) {
      if (!t.rungs[k]) continue;
      const RungResult& r = *t.rungs[k];
      if (r.failed || !std::isfinite(r.metric)) {
        chart.failed_mark(xpos(b.budgets[k]));
        continue;
      }
      const double qx = chart.px_of(xpos(b.budgets[k])), qy = chart.py_of(r.metric);
      if (px >= 0) chart.image().line(px, py, qx, qy, c, completed ? 2.0 : 1.0);
      chart.image().disc(qx, qy, completed ? 4.0 : 3.0, c);
      px = qx;
      py = qy;
    }
  }
  chart.legend(0, plot::viridis(0.8), "ran its last rung");
  chart.legend(1, plot::Rgb{150, 150, 170}, "pruned / not finished");
  chart.image().write_png(dir / "rungs.png");
  return written + 1;
}

}  // namespace climseg::search
