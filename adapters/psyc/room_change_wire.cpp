#include "adapters/psyc/room_change_wire.hpp"

#include <array>
#include <charconv>
#include <utility>

#include "core/model/room.hpp"

namespace parley::adapters::psyc {

namespace {

constexpr std::array<std::pair<std::string_view, core::RoomFlag>, 5> kFlags{{
    {"invite-only", core::RoomFlag::invite_only},
    {"moderated", core::RoomFlag::moderated},
    {"no-external", core::RoomFlag::no_external},
    {"secret", core::RoomFlag::secret},
    {"topic-locked", core::RoomFlag::topic_locked},
}};

constexpr std::array<std::pair<std::string_view, core::MemberStatus>, 3> kStatus{{
    {"operator", core::MemberStatus::operator_status},
    {"moderator", core::MemberStatus::moderator},
    {"voice", core::MemberStatus::voice},
}};

std::string item(bool on, std::string_view word, std::string_view arg = {}) {
  std::string s(1, on ? '+' : '-');
  s += word;
  if (!arg.empty()) {
    s += ' ';
    s += arg;
  }
  return s;
}

// Biboumi's table (DESIGN.md): operator = moderator role with admin affiliation or above,
// moderator = moderator role below it.
bool is_operator(core::Role r, core::Affiliation a) {
  return r == core::Role::moderator && a >= core::Affiliation::admin;
}
bool is_moderator(core::Role r, core::Affiliation a) {
  return r == core::Role::moderator && a < core::Affiliation::admin;
}

}  // namespace

std::vector<std::string> change_items(const core::RoomChange& applied,
                                      const std::function<std::string(std::string_view)>& uniform_of) {
  using Kind = core::RoomChangeItem::Kind;
  std::vector<std::string> out;
  for (const auto& it : applied.items) {
    switch (it.kind) {
      case Kind::flag:
        for (const auto& [name, f] : kFlags)
          if (f == it.flag) out.push_back(item(it.on, name));
        break;
      case Kind::key:
        out.push_back(it.on ? item(true, "key", it.text) : item(false, "key"));
        break;
      case Kind::limit:
        out.push_back(it.on ? item(true, "limit", std::to_string(it.limit)) : item(false, "limit"));
        break;
      case Kind::ban:
        out.push_back(item(it.on, "ban", core::to_storage(it.mask)));
        break;
      case Kind::member: {
        std::string uni = uniform_of(it.nick);
        if (uni.empty()) break;
        const bool op0 = is_operator(it.before_role, it.before_affiliation);
        const bool op1 = is_operator(it.after_role, it.after_affiliation);
        const bool mod0 = is_moderator(it.before_role, it.before_affiliation);
        const bool mod1 = is_moderator(it.after_role, it.after_affiliation);
        if (op0 != op1) out.push_back(item(op1, "operator", uni));
        if (mod0 != mod1) out.push_back(item(mod1, "moderator", uni));
        if (it.before_voice != it.after_voice) out.push_back(item(it.after_voice, "voice", uni));
        break;
      }
      case Kind::status:   // request only: never in an applied change
      case Kind::outcast:  // a local address: stays on this node
        break;
    }
  }
  return out;
}

std::optional<std::string> parse_change_items(const std::vector<std::string_view>& items,
                                              const std::function<std::string(std::string_view)>& nick_of,
                                              core::RoomChange& out) {
  core::RoomChange req;
  for (std::string_view e : items) {
    if (e.size() < 2 || (e[0] != '+' && e[0] != '-')) return "an element without + or -";
    const bool on = e[0] == '+';
    e.remove_prefix(1);
    const auto sp = e.find(' ');
    const std::string_view word = e.substr(0, sp);
    const std::string_view arg = sp == std::string_view::npos ? std::string_view{} : e.substr(sp + 1);
    bool known = false;
    for (const auto& [name, f] : kFlags)
      if (word == name) {
        if (!arg.empty()) return "a flag takes no argument";
        req.items.push_back(core::RoomChangeItem::make_flag(f, on));
        known = true;
      }
    for (const auto& [name, st] : kStatus)
      if (word == name) {
        if (arg.empty()) return "a status needs a uniform";
        if (std::string nick = nick_of(arg); !nick.empty())
          req.items.push_back(core::RoomChangeItem::make_status(st, on, std::move(nick)));
        known = true;
      }
    if (word == "key") {
      if (on && arg.empty()) return "+key needs a key";
      req.items.push_back(core::RoomChangeItem::make_key(on, on ? std::string(arg) : std::string()));
    } else if (word == "limit") {
      std::uint32_t n = 0;
      if (on) {
        auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
        if (arg.empty() || ec != std::errc{} || p != arg.data() + arg.size() || n == 0)
          return "+limit needs a positive number";
      }
      req.items.push_back(core::RoomChangeItem::make_limit(on, n));
    } else if (word == "ban") {
      if (arg.empty()) return "a ban needs a pattern";
      req.items.push_back(core::RoomChangeItem::make_ban(on, core::ban_from_storage(arg)));
    } else if (!known) {
      continue;  // a word a newer node knows: skipped
    }
  }
  out = std::move(req);
  return std::nullopt;
}

}  // namespace parley::adapters::psyc
