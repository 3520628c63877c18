#include "adapters/xmpp/sm_queue.hpp"

#include <utility>

namespace parley::adapters::xmpp {

bool SmQueue::push(std::string xml, core::MessagePtr message, bool stored) {
  bytes_ += xml.size();
  const bool keep_stored = stored && message;
  unacked_.push_back(Entry{std::move(xml), std::move(message), keep_stored});
  return unacked_.size() % 8 == 1;
}

SmQueue::AckResult SmQueue::ack(std::uint32_t h, std::vector<std::string>& stored_ids) {
  const std::uint32_t n = h - acked_;  // modulo 2^32
  if (n > unacked_.size()) return AckResult::too_high;
  for (std::uint32_t i = 0; i < n; ++i) {
    bytes_ -= unacked_[i].xml.size();
    if (unacked_[i].stored) stored_ids.push_back(unacked_[i].message->id);
  }
  unacked_.erase(unacked_.begin(), unacked_.begin() + n);
  if (unacked_.empty()) std::vector<Entry>().swap(unacked_);  // give the burst's memory back
  acked_ = h;
  return AckResult::ok;
}

bool SmQueue::over_bound(std::size_t max_count, std::size_t max_bytes) {
  if (overflowed_) return false;
  const bool over = (max_count != 0 && unacked_.size() > max_count) || (max_bytes != 0 && bytes_ > max_bytes);
  if (over) overflowed_ = true;
  return over;
}

std::vector<std::string> SmQueue::copy_xml() const {
  std::vector<std::string> out;
  out.reserve(unacked_.size());
  for (const auto& u : unacked_) out.push_back(u.xml);
  return out;
}

std::vector<core::MessagePtr> SmQueue::take_messages() {
  std::vector<core::MessagePtr> out;
  for (auto& u : unacked_)
    if (u.message && !u.stored) out.push_back(std::move(u.message));
  std::vector<Entry>().swap(unacked_);
  bytes_ = 0;
  return out;
}

std::string handled_count_too_high(std::uint32_t h, std::uint32_t send_count) {
  return "<handled-count-too-high xmlns='urn:xmpp:sm:3' h='" + std::to_string(h) + "' send-count='" +
         std::to_string(send_count) + "'/>";
}

}  // namespace parley::adapters::xmpp
