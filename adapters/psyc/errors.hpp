#pragma once
// Neutral errors -> PSYC _error_* methods (every failure a client causes gets one back).
#include <string_view>

#include "core/model/error.hpp"

namespace parley::adapters::psyc {

std::string_view error_method(core::Condition c);

}  // namespace parley::adapters::psyc
