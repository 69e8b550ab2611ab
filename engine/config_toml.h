// TOML at the edges: the one place TOML text and files are parsed (with one error format,
// FileError "SOURCE:LINE:COLUMN: description"), and the conversions between TOML tables of
// config sections and assignments. Everything inside xbar works on structs.
#pragma once
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "engine/assignment.h"

namespace xbar {

// The error of a TOML syntax error in `source` (a file path or a name for the text).
FileError toml_error(const toml::parse_error& e, const std::string& source);
toml::table parse_toml(const std::string& text, const std::string& source);
toml::table parse_toml_file(const std::string& path);  // FileError when it cannot be read

// A scalar (integer, float, boolean, string); ConfigError naming `where` otherwise.
FieldValue toml_value(const toml::node& n, const std::string& where);
// The config sections of `t` ([section] key = value; nested tables such as [device.pcm] give
// "device.pcm.key") as assignments, in table order; top-level keys in `skip` are left out.
// ConfigError for a top-level key that is not a table.
Assignments toml_assignments(const toml::table& t, const std::string& source, const std::vector<std::string>& skip = {});
// Inserts each assignment as [section] key = value; a dotted section ("device.pcm") becomes a
// nested table.
void insert_assignments(toml::table& t, const Assignments& a);
// The table of a dotted section name inside root, created on the way.
toml::table& toml_table_at(toml::table& root, const std::string& dotted_section);

}  // namespace xbar
