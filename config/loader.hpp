#pragma once
// Loading parley.yaml (DESIGN.md, Configuration shape). Every error in the file is
// reported, each as "FILE:LINE:COL: KEY.PATH: what was expected".
#include <string>

#include "config/config.hpp"
#include "config/diagnostic.hpp"

namespace parley::config {

Result<Config> load_file(const std::string& path);
// `name` stands in for the file name in diagnostics and Config::path.
Result<Config> load_string(const std::string& text, const std::string& name = "<string>");

}  // namespace parley::config
