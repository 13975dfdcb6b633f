// The raw view of a NetCDF/HDF5 file: format, groups, dimensions, variables, attributes.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace climseg::io {

// Describes a file as JSON: {path, format, size_bytes, groups:[{name, dimensions, variables,
// attributes, groups}]}. Throws Error with one line for anything that is not a readable
// NetCDF/HDF5 file, including a truncated one (the last element of every variable is read back).
nlohmann::json inspect_raw(const std::filesystem::path& path);

// ncdump -h style text of the JSON above.
std::string format_raw(const nlohmann::json& report);

}  // namespace climseg::io
