#pragma once
#include <string_view>

namespace parley::daemon {
inline constexpr std::string_view kVersion = "0.1.0";
}
