#pragma once
// The Prometheus text exposition format (version 0.0.4) of the core's metrics, for
// `/metrics` and `parleyd ctl metrics`. The format itself (HELP/TYPE lines, escaping of
// label values and help text, histogram _bucket/_sum/_count with le="+Inf") is written by
// prometheus-cpp's TextSerializer (Debian prometheus-cpp-dev); this file maps the
// registry's families onto its structs and escapes help text, which that version does not.
#include <string>
#include <vector>

#include "core/metrics/registry.hpp"

namespace parley::adapters {

// Content-Type of the result.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Pure: the families as exposition text.
std::string render_exposition(const std::vector<core::MetricRegistry::Family>& families);

// Any thread: collects `registry` (atomics and its mutex only; never the core strand).
std::string metrics_exposition(const core::MetricRegistry& registry);

}  // namespace parley::adapters
