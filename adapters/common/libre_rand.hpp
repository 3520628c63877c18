#pragma once
// libre's random numbers from a per-thread pool (adapters/common/libre_rand.cpp): one
// RAND_bytes call per 512 bytes instead of one per 4. Linked into parley_libre.

namespace parley::adapters {

// true when the process resolves libre's rand_u32/rand_u64/rand_bytes to the pooled
// versions (the link exports them); false: libre's own, one RAND_bytes call each.
bool libre_rand_pooled();

}  // namespace parley::adapters
