#pragma once
#include <cstddef>

namespace parley::protocols {
// Upper bound on any single write queue per connection before it is considered stuck.
inline constexpr std::size_t kMaxWriteQueueBytes = 4 * 1024 * 1024;
}
