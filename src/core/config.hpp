// One configuration mechanism for every command. A command's configuration is a JSON document
// resolved in this order, later winning:
//   the config type's defaults  <  a JSON file (--config)  <  command-line aliases (--min-wind 17)
//   <  dotted overrides (--tc.min_wind 17)
// and then read into a typed config by a strict Reader that refuses unknown keys and wrong types
// with a message naming the user-facing key. Every config type follows the same shape:
//
//   struct FooConfig {
//     ...fields with defaults...
//     nlohmann::json to_json() const;                    // every field, so a summary is the run
//     static FooConfig from_json(const nlohmann::json&);  // throws UsageError naming the key
//   };
//
// and a command's summary holds to_json() whole: fed back as --config it reproduces the run.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/enum_names.hpp"
#include "core/error.hpp"

namespace climseg::config {

using Json = nlohmann::json;

// One "--a.b value" setting: the dotted key and the text as typed.
struct Override {
  std::string key;
  std::string text;
};

// Reads a JSON configuration file; UsageError naming the file when missing or not JSON.
Json load_file(const std::string& path);

// "--key value" and "--key=value" pairs from arguments no option claimed; UsageError for anything
// else.
std::vector<Override> parse_override_args(const std::vector<std::string>& args);

// Sets the dotted key in `doc`, typed by what `defaults` holds there:
//   a string default keeps the text as it is (a file name "2000" stays a string) unless it is a
//   JSON list or object (keys that take a name or a list);
//   a list default takes a JSON list, or else the text split at commas (each part typed like the
//   list's first default element, strings when the list is empty);
//   anything else (numbers, booleans, objects, keys absent from the defaults) parses the text as
//   JSON when it is valid JSON, else keeps it as a string, and the Reader judges the type.
// UsageError when a part of the key is not a section.
void apply_override(Json& doc, const Override& o, const Json& defaults);
void apply_overrides(Json& doc, const std::vector<Override>& overrides, const Json& defaults);

// The value at a dotted key, or nullptr when absent.
const Json* find(const Json& doc, std::string_view dotted_key);

// Reads keys of one JSON object into fields, refusing unknown keys at finish(). `what` names the
// configuration in messages ("label config"), `section` the dotted path to this object.
class Reader {
 public:
  Reader(const Json& j, std::string what, std::string section = {});

  // Leaves `out` (its default) alone when the key is absent; UsageError naming the key when the
  // value has another type.
  template <class T>
  void get(const char* key, T& out) {
    seen_.insert(key);
    if (!j_.contains(key)) return;
    try {
      out = j_.at(key).get<T>();
    } catch (const Json::exception&) {
      wrong_type(key);
    }
  }
  // A list of strings that may also be given as one string.
  void get_list(const char* key, std::vector<std::string>& out);
  // The value as JSON, unchecked.
  void get_json(const char* key, Json& out);
  // One of the names of enumeration E (its EnumTable below): enumerated options become types,
  // parsed once, here.
  template <class E>
  void get_enum(const char* key, E& out);
  // A nested object (absent: an empty one).
  Reader section(const char* key);
  // Marks a key as known without reading it.
  void mark(const char* key) { seen_.insert(key); }
  bool has(const char* key) const { return j_.contains(key); }
  // UsageError naming the first key no get() asked for, listing the keys of `defaults`.
  void finish(const Json& defaults) const;

  // "section.key" as the user writes it.
  std::string name(const char* key) const { return section_.empty() ? key : section_ + "." + key; }
  const std::string& what() const { return what_; }
  [[noreturn]] void fail(const char* key, const std::string& why) const;

 private:
  [[noreturn]] void wrong_type(const char* key) const;
  Json j_;  // a copy: readers of temporaries stay valid (configurations are small)
  std::string what_;
  std::string section_;
  std::set<std::string> seen_;
};

template <class E>
void Reader::get_enum(const char* key, E& out) {
  if (!j_.contains(key)) {
    seen_.insert(key);
    return;
  }
  std::string text;
  get(key, text);
  out = parse_enum<E>(text, what_, name(key));
}

// nlohmann::json writes enumerations with EnumTable names: j["type"] = config::to_string(type).

// A command-line alias: today's flag that sets one configuration key.
struct Alias {
  enum class Kind {
    value,     // --flag TEXT sets key to TEXT (typed as apply_override does)
    list,      // --flag A B ... sets key to the list
    flag,      // --flag sets key to true
    flag_off,  // --flag sets key to false
    set,       // --flag sets key to `value` (flags that set one key exclude each other)
  };
  std::string flags;  // CLI11 names: "-i,--in"
  std::string key;    // dotted configuration key
  std::string help;
  Kind kind = Kind::value;
  std::string value;  // for Kind::set
};

}  // namespace climseg::config
