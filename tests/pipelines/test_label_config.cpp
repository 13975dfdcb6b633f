// LabelConfig (models/pipelines/label_config.hpp): JSON both ways, every key read back, every flag
// an alias of an existing key, messages that name the key, a summary read as its config.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "models/pipelines/label_config.hpp"
#include "readers/quantities.hpp"

namespace climseg::pipelines {
namespace {

using Json = nlohmann::json;

std::string usage_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no UsageError)";
}

// Every leaf of `j` changed to another value of its type (numbers + 1.5 or + 1, booleans flipped,
// strings suffixed), except those whose values are checked (enumerations, lists, maps).
void perturb(Json& j, const std::string& where = {}) {
  for (auto& [k, v] : j.items()) {
    const std::string key = where.empty() ? k : where + "." + k;
    if (key == "ar.method" || key == "detect" || key == "vars" || key == "units" || key == "in" || key == "overwrite" ||
        key == "no_overwrite")
      continue;
    if (v.is_object())
      perturb(v, key);
    else if (v.is_boolean())
      v = !v.get<bool>();
    else if (v.is_number_integer())
      v = v.get<int64_t>() + 1;
    else if (v.is_number())
      v = v.get<double>() + 1.5;
    else if (v.is_string())
      v = v.get<std::string>() + "x";
  }
}

TEST(LabelConfig, EveryKeyRoundTrips) {
  const Json defaults = LabelConfig{}.to_json();
  EXPECT_EQ(LabelConfig::from_json(defaults).to_json(), defaults);
  EXPECT_EQ(LabelConfig::from_json(Json::object()).to_json(), defaults);
  Json changed = defaults;
  perturb(changed);
  changed["ar"]["method"] = "tmq";
  changed["detect"] = {"waves", "tc"};
  changed["vars"] = {{"psl", "msl"}, {"q3d", ""}};
  changed["units"] = {{"PSL", "hPa"}};
  changed["in"] = {"a.nc", "b/"};
  changed["no_overwrite"] = true;
  changed["overlap"] = "off";
  const LabelConfig c = LabelConfig::from_json(changed);
  EXPECT_EQ(c.to_json(), changed) << c.to_json().dump(1);
  // Spot checks that keys reach the fields they name.
  EXPECT_EQ(c.detect.tc.max_core_radius_deg, LabelConfig{}.detect.tc.max_core_radius_deg + 1.5);
  EXPECT_EQ(c.detect.tracks.max_gap_steps, 1);
  EXPECT_EQ(c.detect.ar_method, heuristics::ArMethod::tmq);
  EXPECT_EQ(c.rerun, io::Rerun::refuse_different);
  EXPECT_EQ(c.overlap, io::Overlap::off);
  EXPECT_EQ(c.vars.at(Role::psl), "msl");
  EXPECT_EQ(c.detector_text(), "waves,tc");
  EXPECT_TRUE(c.detect.waves && c.detect.cyclones && !c.detect.rivers);
  EXPECT_EQ(c.ivt_threshold, "250x");
}

TEST(LabelConfig, EveryFlagSetsAKeyThatExists) {
  const Json defaults = LabelConfig{}.to_json();
  std::set<std::string> flags;
  for (const config::Alias& a : LabelConfig::cli_aliases()) {
    EXPECT_NE(config::find(defaults, a.key), nullptr) << a.flags << " -> " << a.key;
    EXPECT_TRUE(flags.insert(a.flags).second) << a.flags;
  }
  EXPECT_EQ(flags.size(), 48u);  // today's `climseg label` options (docs/cli.md)
}

TEST(LabelConfig, FlagsAndListsAreReadLikeTheCommandLine) {
  Json j = Json::object();
  j["detect"] = "tc,waves";
  j["vars"] = {"psl=msl", "u850=U@850"};
  j["units"] = {"msl=hPa"};
  j["ar"] = {{"ivt", {{"threshold", 300}}}};
  const LabelConfig c = LabelConfig::from_json(j);
  EXPECT_EQ(c.detector_text(), "tc,waves");
  EXPECT_EQ(c.vars.at(Role::u850), "U@850");
  EXPECT_EQ(c.units.at("msl"), "hPa");
  EXPECT_EQ(c.ivt_threshold, "300");
}

TEST(LabelConfig, MessagesNameTheKey) {
  EXPECT_EQ(usage_message([] {
              LabelConfig::from_json({{"tc", {{"min_vorticty", 1}}}});
            }).rfind("label config: unknown key 'tc.min_vorticty' (known: ", 0),
            0u);
  EXPECT_EQ(usage_message([] {
              LabelConfig::from_json({{"ar", {{"method", "fast"}}}});
            }),
            "label config: 'ar.method' must be one of auto, ivt, tmq, got 'fast'");
  EXPECT_EQ(usage_message([] {
              LabelConfig::from_json({{"step_hours", "six"}});
            }),
            R"(label config: 'step_hours' has the wrong type: "six")");
  EXPECT_EQ(usage_message([] {
              LabelConfig::from_json({{"detect", "tc,hail"}});
            }),
            "--detect: unknown detector 'hail' (use tc, ar, waves)");
  EXPECT_EQ(usage_message([] {
              LabelConfig::from_json({{"vars", {{"foo", "BAR"}}}});
            }).rfind("--var foo=BAR: unknown role 'foo' (roles: hs, ivt, prect, psl, ", 0),
            0u);
  EXPECT_EQ(usage_message([] {
              LabelConfig::from_json({{"overwrite", true}, {"no_overwrite", true}});
            }),
            "--no-overwrite excludes --overwrite");
}

TEST(LabelConfig, ASummaryIsReadAsItsConfigWithTheCommandLineOnTop) {
  LabelConfig c;
  c.out = "first";
  c.detect.tc.min_vorticity = 2e-4;
  Json summary = {{"samples", 4}, {"roles", {{"psl", "PSL"}}}, {"config", c.to_json()}};
  summary["out"] = "second";                   // --out second
  summary["tracks"] = {{"max_gap_steps", 1}};  // --max-gap 1
  const LabelConfig r = LabelConfig::from_json(summary);
  EXPECT_EQ(r.out, "second");
  EXPECT_EQ(r.detect.tc.min_vorticity, 2e-4);
  EXPECT_EQ(r.detect.tracks.max_gap_steps, 1);
  EXPECT_EQ(r.detect.tracks.min_wind_speed, c.detect.tracks.min_wind_speed);
}

TEST(LabelConfig, TheRunKeyHoldsEverythingButWhereItReadsAndWrites) {
  LabelConfig c;
  c.inputs = {"a.nc"};
  c.out = "o";
  c.rerun = io::Rerun::overwrite;
  const Json k = c.key_json();
  EXPECT_FALSE(k.contains("--in") || k.contains("in") || k.contains("--out") || k.contains("--overwrite"));
  EXPECT_EQ(k.at("--waves-threshold"), "8");
  EXPECT_EQ(k.at("tc.min_psl_pa"), 50000.0);          // no flag: its key
  EXPECT_EQ(k.at("tracks.require_warm_core"), true);  // a flag that negates its key: the key
  LabelConfig other = c;
  other.inputs = {"b.nc"};
  other.out = "p";
  other.rerun = io::Rerun::keep_matching;
  EXPECT_EQ(other.key_json(), k);
  other.detect.tc_mask.gale_wind = 18;
  EXPECT_NE(other.key_json(), k);
}

TEST(Roles, OneForEachQuantity) {
  std::set<std::string> quantities;
  for (const io::Quantity& q : io::quantities()) {
    quantities.insert(q.role);
    const auto r = parse_role(q.role);
    ASSERT_TRUE(r.has_value()) << q.role;
    EXPECT_STREQ(role_name(*r), q.role.c_str());
  }
  EXPECT_EQ(quantities.size(), all_roles().size());
}

}  // namespace
}  // namespace climseg::pipelines
