#include "adapters/sip/federation_schedule.hpp"

#include <algorithm>

namespace parley::adapters::sip {

std::chrono::milliseconds refresh_after(std::uint32_t granted_seconds) {
  return std::max(std::chrono::milliseconds(1000),
                  std::chrono::milliseconds(static_cast<std::int64_t>(granted_seconds) * 900));
}

protocols::BackoffPolicy federation_backoff(std::uint32_t max_seconds) {
  protocols::BackoffPolicy p;
  p.min = std::chrono::seconds(1);
  p.max = std::chrono::seconds(std::max<std::uint32_t>(1, max_seconds));
  p.factor = 2.0;
  p.reset_after = std::chrono::seconds(60);
  return p;
}

void PublishSchedule::set_body(std::string body) {
  if (body == body_) return;
  body_ = std::move(body);
  dirty_ = true;
}

std::optional<PublishSchedule::Request> PublishSchedule::due(FedClock::time_point now) {
  if (in_flight_ || now < retry_at_) return std::nullopt;
  if (dirty_ && !body_.empty()) {
    in_flight_ = true;
    dirty_ = false;
    return Request{etag_.empty() ? Kind::initial : Kind::modify, etag_, body_};
  }
  if (!etag_.empty() && now >= refresh_at_) {
    in_flight_ = true;
    return Request{Kind::refresh, etag_, {}};
  }
  return std::nullopt;
}

void PublishSchedule::answered(std::uint16_t code, std::string etag, std::uint32_t expires,
                               FedClock::time_point now) {
  in_flight_ = false;
  if (code >= 200 && code < 300) {
    // §4.1: a 2xx carries the entity tag for the next refresh/modify; keep the old one if
    // a careless server left it out.
    if (!etag.empty()) etag_ = std::move(etag);
    refresh_at_ = now + refresh_after(expires ? expires : 60);
    conditional_failures_ = 0;
    backoff_.reset();
    return;
  }
  etag_.clear();
  dirty_ = true;  // the whole state again, as an initial publication
  if (code == 412 && conditional_failures_++ == 0) return;  // §4.4: at once, once
  retry_at_ = now + backoff_.next();
}

bool ResubscribeSchedule::due(FedClock::time_point now) {
  if (live_ || now < retry_at_) return false;
  live_ = true;
  established_ = false;
  started_ = now;
  return true;
}

void ResubscribeSchedule::established(FedClock::time_point now) {
  (void)now;
  established_ = true;
}

void ResubscribeSchedule::ended(FedClock::time_point now) {
  if (!live_) return;
  live_ = false;
  // Only a subscription that was accepted and lived counts as a success.
  if (established_)
    backoff_.connection_ended(std::chrono::duration_cast<std::chrono::milliseconds>(now - started_));
  established_ = false;
  retry_at_ = now + backoff_.next();
}

}  // namespace parley::adapters::sip
