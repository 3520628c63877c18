#include "adapters/gateway/channel_lines.hpp"

#include <cstring>
#include <functional>

#include "protocols/irc/text.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::gateway {

namespace irc = parley::protocols::irc;

namespace {
// string_view's == without its out-of-line compare(): every puppet that hears a line looks
// it up here by content, three comparisons that match (~45 instructions each before).
bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}
}  // namespace

std::string_view ChannelLines::EscapedTo::operator()(std::string_view to) {
  if (!set_ || !same(to, to_)) {
    to_.assign(to);
    escaped_.clear();
    protocols::xmpp::escape_attr(escaped_, to);
    set_ = true;
  }
  return escaped_;
}

std::size_t ChannelLines::slot_of(std::string_view room) {
  return std::hash<std::string_view>{}(room) % kSlots;
}

ChannelLines::Line* ChannelLines::line(std::size_t slot, std::string_view room, std::string_view nick,
                                       std::string_view text, bool notice) {
  Line& s = slots_[slot % kSlots];
  if (s.used && s.notice == notice && same(s.text, text) && same(s.nick, nick) && same(s.room, room))
    return &s;
  // A NOTICE is shown as a message with a "[notice] " prefix (docs/ARCHITECTURE.md): XMPP
  // has no notice type a client would render distinctly.
  const std::string_view prefix = notice ? "[notice] " : "";
  XmppBody b;
  bool action = false;
  if (auto a = irc::ctcp_action(text)) {
    action = true;
    b = body_from_irc(*a, std::string(prefix) + "/me ");
  } else if (irc::parse_ctcp(text)) {
    return nullptr;  // other CTCP requests are not shown as text
  } else {
    b = body_from_irc(text, prefix);
  }
  s.room.assign(room);
  s.nick.assign(nick);
  s.text.assign(text);
  s.notice = notice;
  s.action = action;
  s.body = std::move(b);
  s.rendered = false;
  s.used = true;
  return &s;
}

bool ChannelLines::prepare(Line& l, std::string_view sid) {
  if (l.rendered && same(l.stanza_id, sid)) return true;
  // Rendered with an empty `to`: the escaped `from` holds no quote, so the first "' to='"
  // is the attribute's, and the value goes between the two halves.
  const std::string whole = render(l, {}, sid);
  constexpr std::string_view kTo = "' to='";
  const auto at = whole.find(kTo);
  if (at == std::string::npos) return false;  // not the writer's layout: render every copy whole
  l.head.assign(whole, 0, at + kTo.size());
  l.tail.assign(whole, at + kTo.size());
  l.stanza_id.assign(sid);
  l.rendered = true;
  return true;
}

std::string ChannelLines::render(const Line& l, std::string_view to, std::string_view sid) {
  std::string from;
  from.reserve(l.room.size() + 1 + l.nick.size());
  from.append(l.room).append(1, '/').append(l.nick);
  return render_message(from, to, "groupchat", l.body.body, nullptr, {}, l.body.html, {}, {}, sid,
                        sid.empty() ? std::string_view() : std::string_view(l.room));
}

std::string ChannelLines::stanza(Line& l, std::string_view to, std::string_view sid) {
  if (!prepare(l, sid)) return render(l, to, sid);
  std::string out;
  out.reserve(l.head.size() + to.size() + 8 + l.tail.size());
  out += l.head;
  protocols::xmpp::escape_attr(out, to);
  out += l.tail;
  return out;
}

std::optional<ChannelLines::Parts> ChannelLines::parts(Line& l, std::string_view to, std::string_view sid,
                                                       EscapedTo& cache) {
  if (!prepare(l, sid)) return std::nullopt;
  return Parts{l.head, cache(to), l.tail};
}

}  // namespace parley::adapters::gateway
