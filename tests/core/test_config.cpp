// The one configuration mechanism (src/core/config.hpp): overrides typed by the defaults, strict
// reading with messages that name the user-facing key.
#include <gtest/gtest.h>

#include <fstream>

#include "core/config.hpp"
#include "test_support.hpp"

using namespace climseg;
using config::Json;

namespace {

std::string usage_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

enum class Mode { fast, exact };

}  // namespace

template <>
struct climseg::config::EnumTable<Mode> {
  static constexpr std::pair<const char*, Mode> names[] = {{"fast", Mode::fast}, {"exact", Mode::exact}};
};

TEST(Config, OverridesAreTypedByTheDefaults) {
  const Json defaults = Json::parse(R"({"out": "", "tc": {"min_wind": 17.5, "on": true},
                                        "files": ["a.nc"], "levels": [850.0], "weights": "none"})");
  Json doc = Json::object();
  config::apply_overrides(
      doc,
      config::parse_override_args({"--out", "2000", "--tc.min_wind=20", "--tc.on", "false", "--files", "x.nc,y.nc",
                                   "--levels", "500,250", "--weights", "[1, 2]", "--new.key", "7"}),
      defaults);
  EXPECT_EQ(doc["out"], "2000");  // a file name that looks like a number stays a string
  EXPECT_EQ(doc["tc"]["min_wind"], 20);
  EXPECT_EQ(doc["tc"]["on"], false);
  EXPECT_EQ(doc["files"], Json::parse(R"(["x.nc", "y.nc"])"));
  EXPECT_EQ(doc["levels"], Json::parse("[500, 250]"));
  EXPECT_EQ(doc["weights"], Json::parse("[1, 2]"));  // a name-or-list key takes the list
  EXPECT_EQ(doc["new"]["key"], 7);                   // unknown keys are left to the Reader
  EXPECT_NE(usage_message([&] {
              config::apply_override(doc, {"out.x", "1"}, defaults);
            }).find("'out' is not a section"),
            std::string::npos);
  EXPECT_NE(usage_message([] { config::parse_override_args({"--epochs"}); }).find("--epochs needs a value"),
            std::string::npos);
  EXPECT_NE(usage_message([] { config::parse_override_args({"stray"}); }).find("unexpected argument 'stray'"),
            std::string::npos);
  ASSERT_NE(config::find(doc, "tc.min_wind"), nullptr);
  EXPECT_EQ(*config::find(doc, "tc.min_wind"), 20);
  EXPECT_EQ(config::find(doc, "tc.max_wind"), nullptr);
  EXPECT_EQ(config::find(doc, "out.x"), nullptr);
}

TEST(Config, ReaderNamesTheKeyInEveryRefusal) {
  const Json defaults = Json::parse(R"({"mode": "fast", "tc": {"min_wind": 17.5}})");
  auto read = [&](const char* text) {
    Mode mode = Mode::fast;
    double wind = 17.5;
    config::Reader top(Json::parse(text), "label config");
    top.get_enum("mode", mode);
    config::Reader tc = top.section("tc");
    tc.get("min_wind", wind);
    tc.finish(defaults.at("tc"));
    top.finish(defaults);
    return std::make_pair(mode, wind);
  };
  EXPECT_EQ(read(R"({"mode": "exact", "tc": {"min_wind": 20}})"), std::make_pair(Mode::exact, 20.0));
  EXPECT_EQ(read("{}"), std::make_pair(Mode::fast, 17.5));
  EXPECT_EQ(usage_message([&] { read(R"({"tc": {"min_wnd": 20}})"); }),
            "label config: unknown key 'tc.min_wnd' (known: min_wind)");
  EXPECT_EQ(usage_message([&] { read(R"({"tc": {"min_wind": "strong"}})"); }),
            R"(label config: 'tc.min_wind' has the wrong type: "strong")");
  EXPECT_EQ(usage_message([&] { read(R"({"mode": "slow"})"); }),
            "label config: 'mode' must be one of fast, exact, got 'slow'");
  EXPECT_EQ(usage_message([&] { read(R"({"tc": 3})"); }), "label config: 'tc' must be an object, got 3");
  EXPECT_STREQ(config::to_string(Mode::exact), "exact");
  EXPECT_EQ(config::choices<Mode>(), "fast, exact");
}

TEST(Config, FilesAreReadOrRefusedNamingThem) {
  test::TempDir dir;
  const std::string good = (dir / "good.json").string(), bad = (dir / "bad.json").string();
  std::ofstream(good) << R"({"tc": {"min_wind": 20}})";
  std::ofstream(bad) << R"({"tc": )";
  EXPECT_EQ(config::load_file(good)["tc"]["min_wind"], 20);
  EXPECT_EQ(usage_message([&] { config::load_file(bad); }).rfind(bad + ": not valid JSON", 0), 0u);
  EXPECT_EQ(usage_message([&] {
              config::load_file((dir / "none.json").string());
            }).rfind((dir / "none.json").string() + ": no such configuration file", 0),
            0u);
}
