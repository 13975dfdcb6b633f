// One configuration mechanism: defaults < file < aliases < dotted overrides, read strictly.
#include "core/config.hpp"

#include <filesystem>

#include "core/atomic_file.hpp"

namespace climseg::config {

namespace {

std::string show(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

const Json& empty_object() {
  static const Json e = Json::object();
  return e;
}

// Text typed like `like` (a default value): strings stay strings, else JSON when valid.
Json typed(const std::string& text, const Json* like) {
  Json v;
  try {
    v = Json::parse(text);
  } catch (const Json::exception&) {
    return text;  // plain words are strings
  }
  // Where a string is expected, numbers and words stay text; a list or an object is taken as such
  // (keys that accept a name or a list, like loss.class_weights).
  if (like && like->is_string() && !v.is_array() && !v.is_object()) return text;
  return v;
}

}  // namespace

Json load_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    fail_usage("{}: no such configuration file (give a JSON file to --config)", path);
  try {
    return Json::parse(read_file(path));
  } catch (const Json::exception& e) {
    fail_usage("{}: not valid JSON: {}", path, e.what());
  }
}

std::vector<Override> parse_override_args(const std::vector<std::string>& args) {
  std::vector<Override> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() < 3)
      fail_usage("unexpected argument '{}' (config keys go as --key value)", a);
    const auto eq = a.find('=');
    if (eq != std::string::npos) {
      out.push_back({a.substr(2, eq - 2), a.substr(eq + 1)});
    } else {
      if (i + 1 >= args.size()) fail_usage("option {} needs a value", a);
      out.push_back({a.substr(2), args[++i]});
    }
  }
  return out;
}

const Json* find(const Json& doc, std::string_view key) {
  const Json* node = &doc;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part(key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &node->at(part);
    if (dot == std::string_view::npos) return node;
    start = dot + 1;
  }
}

void apply_override(Json& doc, const Override& o, const Json& defaults) {
  const std::string& key = o.key;
  if (!doc.is_object()) fail_usage("option --{}: the configuration is not a JSON object", key);
  const Json* like = find(defaults, key);
  Json* node = &doc;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) fail_usage("bad option --{}", key);
    if (!node->is_object()) fail_usage("option --{}: '{}' is not a section", key, key.substr(0, start - 1));
    if (dot == std::string::npos) {
      Json value;
      if (like && like->is_array()) {
        value = typed(o.text, nullptr);
        if (!value.is_array()) {  // A,B,C
          const Json* element = like->empty() ? nullptr : &like->front();
          const Json string_like = "";
          value = Json::array();
          size_t from = 0;
          while (true) {
            const size_t comma = o.text.find(',', from);
            const std::string item = o.text.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
            value.push_back(typed(item, element ? element : &string_like));
            if (comma == std::string::npos) break;
            from = comma + 1;
          }
        }
      } else {
        value = typed(o.text, like);
      }
      (*node)[part] = std::move(value);
      return;
    }
    node = &(*node)[part];
    if (node->is_null()) *node = Json::object();
    start = dot + 1;
  }
}

void apply_overrides(Json& doc, const std::vector<Override>& overrides, const Json& defaults) {
  for (const Override& o : overrides) apply_override(doc, o, defaults);
}

Reader::Reader(const Json& j, std::string what, std::string section)
    : j_(j), what_(std::move(what)), section_(std::move(section)) {
  if (!j_.is_object())
    fail_usage("{}: '{}' must be an object, got {}", what_, section_.empty() ? "the configuration" : section_,
               show(j_));
}

void Reader::get_list(const char* key, std::vector<std::string>& out) {
  seen_.insert(key);
  if (!j_.contains(key)) return;
  const Json& v = j_.at(key);
  if (v.is_string())
    out = {v.get<std::string>()};
  else
    get(key, out);
}

void Reader::get_json(const char* key, Json& out) {
  seen_.insert(key);
  if (j_.contains(key)) out = j_.at(key);
}

Reader Reader::section(const char* key) {
  seen_.insert(key);
  return Reader(j_.contains(key) ? j_.at(key) : empty_object(), what_, name(key));
}

void Reader::finish(const Json& defaults) const {
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    if (seen_.count(it.key())) continue;
    std::string known;
    for (auto d = defaults.begin(); d != defaults.end(); ++d) known += (known.empty() ? "" : ", ") + d.key();
    fail_usage("{}: unknown key '{}' (known: {})", what_, name(it.key().c_str()), known);
  }
}

void Reader::fail(const char* key, const std::string& why) const { fail_usage("{}: '{}' {}", what_, name(key), why); }

void Reader::wrong_type(const char* key) const {
  fail_usage("{}: '{}' has the wrong type: {}", what_, name(key), show(j_.at(key)));
}

}  // namespace climseg::config
