#pragma once
// libre's timer list with an index (adapters/common/libre_timers.cpp): tmr_start in
// O(log n) instead of a walk over every later timer. Linked into parley_libre.

namespace parley::adapters {

// true when the process resolves libre's tmr_start/tmr_cancel/tmr_poll to Parley's indexed
// versions (the link exports them); false: libre's own run, unchanged.
bool libre_timers_indexed();

}  // namespace parley::adapters
