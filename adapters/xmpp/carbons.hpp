#pragma once
// Message Carbons (XEP-0280): which messages are copied to a user's other resources, the
// <sent/>/<received/> wrapper, and the fan-out to the sessions that enabled carbons.
#include <string>
#include <string_view>

#include "adapters/xmpp/context.hpp"
#include "core/model/message.hpp"

namespace parley::adapters::xmpp {

class Link;

// XEP-0280 §6: a chat message addressed to the full JID user@domain/resource (one
// session) is copied as <received/> to the user's other resources. Not: room traffic
// (incl. MUC private messages), headlines/notices, messages marked no-copy (XEP-0334
// <no-copy/> / <private/>), and messages to the bare JID, which already reached every
// resource. Pure.
bool carbon_copies_received(const core::Message& m, std::string_view user, std::string_view resource);

// `message` (a rendered <message/>) forwarded (XEP-0297) inside <sent/> or <received/>
// (`direction`) from the user's bare JID to the full JID `to`. The copy keeps its own
// namespace inside the forwarded wrapper (XEP-0297 §4). Pure.
std::string render_carbon(std::string_view bare, std::string_view to, std::string_view direction,
                          std::string_view message);

// Delivers render_carbon(...) to every other session of `user` that enabled carbons (all
// but `except`). Core strand.
void send_carbons(Context& ctx, std::string_view user, const Link* except, std::string_view direction,
                  std::string_view message);

}  // namespace parley::adapters::xmpp
