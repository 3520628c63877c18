#pragma once
// The HTTP listener (http.listen, http.metrics_listen): HTTP/1.1 for browsers, serving the
// routes other plugins register in Runtime::http (adapters/common/http_routes.hpp).
#include <memory>

#include "adapters/common/runtime.hpp"
#include "config/config.hpp"
#include "core/plugin/plugin.hpp"

namespace parley::adapters::http {

std::unique_ptr<core::Plugin> make_http_plugin(Runtime& rt, const config::Config& c);

}  // namespace parley::adapters::http
