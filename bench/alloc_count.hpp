#pragma once
// Heap allocations made through operator new since the program started: the benchmarks
// report allocations per operation (alloc_count.cpp replaces the global operator new and
// delete of every bench executable).
#include <cstddef>

namespace parley::bench {
std::size_t allocations();
}
