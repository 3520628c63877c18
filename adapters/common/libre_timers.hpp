#pragma once
// libre's timer list with an index (adapters/common/libre_timers.cpp): tmr_start in
// O(log n) instead of a walk over every later timer. Linked into parley_libre.

namespace parley::adapters {

// true when the process resolves libre's tmr_start/tmr_cancel/tmr_poll to Parley's indexed
// versions (the link exports them); false: libre's own run, unchanged.
bool libre_timers_indexed();

// For LibreLoop::try_run_here: libre work run by another thread while the libre thread
// sleeps in epoll_wait, whose timeout libre computed from the earliest timer before it
// slept. Between begin and end (same thread), a tmr_start that makes its timer the
// earliest is recorded; end returns whether one did, so the caller wakes the loop to
// recompute its timeout (a later timer changes nothing: the loop wakes no later than it).
void libre_timers_begin_foreign();
bool libre_timers_end_foreign();

}  // namespace parley::adapters
