#include "adapters/irc/modes.hpp"

#include <charconv>

namespace parley::adapters::irc {

using core::MemberStatus;
using core::RoomChangeItem;
using core::RoomFlag;

std::optional<RoomChangeItem> item_of_letter(bool plus, char letter, std::string_view arg) {
  switch (letter) {
    case 'i':
      return RoomChangeItem::make_flag(RoomFlag::invite_only, plus);
    case 'm':
      return RoomChangeItem::make_flag(RoomFlag::moderated, plus);
    case 'n':
      return RoomChangeItem::make_flag(RoomFlag::no_external, plus);
    case 's':
      return RoomChangeItem::make_flag(RoomFlag::secret, plus);
    case 't':
      return RoomChangeItem::make_flag(RoomFlag::topic_locked, plus);
    case 'k':
      return RoomChangeItem::make_key(plus, plus ? std::string(arg) : std::string{});
    case 'l': {
      if (!plus) return RoomChangeItem::make_limit(false);
      std::uint32_t n = 0;
      if (std::from_chars(arg.data(), arg.data() + arg.size(), n).ec != std::errc{}) n = 0;
      return RoomChangeItem::make_limit(true, n);  // 0: the core refuses it
    }
    case 'o':
      return RoomChangeItem::make_status(MemberStatus::operator_status, plus, std::string(arg));
    case 'h':
      return RoomChangeItem::make_status(MemberStatus::moderator, plus, std::string(arg));
    case 'v':
      return RoomChangeItem::make_status(MemberStatus::voice, plus, std::string(arg));
    case 'b':
      return RoomChangeItem::make_ban(plus, parse_ban_mask(arg));
    default:
      return std::nullopt;
  }
}

std::string outcast_mask(std::string_view address_id) {
  // A local user id is what IRC shows as the user part of that user's mask; a foreign id
  // ("xmpp:bob@example.org") has '@' and ':' that a mask cannot carry unescaped.
  std::string id(address_id);
  for (char& ch : id)
    if (ch == '@' || ch == '!' || ch == ' ' || ch == ':') ch = '%';
  return "*!" + id + "@*";
}

core::BanMask parse_ban_mask(std::string_view s) {
  core::BanMask m;
  auto bang = s.find('!');
  auto at = s.find('@', bang == std::string_view::npos ? 0 : bang);
  std::string_view nick = s.substr(0, std::min(bang, at));
  std::string_view user, host;
  if (bang != std::string_view::npos)
    user = s.substr(bang + 1, at == std::string_view::npos ? std::string_view::npos : at - bang - 1);
  if (at != std::string_view::npos) host = s.substr(at + 1);
  if (!nick.empty()) m.nick = std::string(nick);
  if (!user.empty()) m.user = std::string(user);
  if (!host.empty()) m.host = std::string(host);
  return m;
}

std::string render_ban_mask(const core::BanMask& m) { return m.nick + "!" + m.user + "@" + m.host; }

char prefix_for(core::Role role, core::Affiliation aff, bool voice) {
  if (role == core::Role::moderator) return aff >= core::Affiliation::admin ? '@' : '%';
  if (voice || (aff >= core::Affiliation::member && role == core::Role::participant)) return '+';
  return 0;
}

std::string prefixes_for(core::Role role, core::Affiliation aff, bool voice) {
  std::string out;
  if (char p = prefix_for(role, aff, voice)) out += p;
  if (voice && role == core::Role::moderator) out += '+';
  return out;
}

namespace {

char flag_letter(RoomFlag f) {
  switch (f) {
    case RoomFlag::invite_only:
      return 'i';
    case RoomFlag::moderated:
      return 'm';
    case RoomFlag::no_external:
      return 'n';
    case RoomFlag::secret:
      return 's';
    case RoomFlag::topic_locked:
      return 't';
  }
  return '?';
}

char letter_of_prefix(char p) { return p == '@' ? 'o' : p == '%' ? 'h' : 'v'; }

}  // namespace

RenderedModes render_modes(const core::RoomChange& c,
                           const std::function<std::string(const std::string&)>& irc_nick) {
  RenderedModes out;
  char sign = 0;
  auto add = [&](bool plus, char letter, const std::string* arg) {
    const char s = plus ? '+' : '-';
    if (s != sign) out.modes += (sign = s);
    out.modes += letter;
    if (arg) out.args.push_back(*arg);
  };
  for (const auto& it : c.items) {
    switch (it.kind) {
      case RoomChangeItem::Kind::flag:
        add(it.on, flag_letter(it.flag), nullptr);
        break;
      case RoomChangeItem::Kind::key: {
        static const std::string star = "*";
        add(it.on, 'k', it.on ? &it.text : &star);
        break;
      }
      case RoomChangeItem::Kind::limit: {
        const std::string n = std::to_string(it.limit);
        add(it.on, 'l', it.on ? &n : nullptr);
        break;
      }
      case RoomChangeItem::Kind::ban: {
        const std::string m = render_ban_mask(it.mask);
        add(it.on, 'b', &m);
        break;
      }
      case RoomChangeItem::Kind::outcast: {
        const std::string m = outcast_mask(it.text);
        add(it.on, 'b', &m);
        break;
      }
      case RoomChangeItem::Kind::member: {
        const std::string before = prefixes_for(it.before_role, it.before_affiliation, it.before_voice);
        const std::string after = prefixes_for(it.after_role, it.after_affiliation, it.after_voice);
        const std::string nick = irc_nick(it.nick);
        for (char p : before)
          if (after.find(p) == std::string::npos) add(false, letter_of_prefix(p), &nick);
        for (char p : after)
          if (before.find(p) == std::string::npos) add(true, letter_of_prefix(p), &nick);
        break;
      }
      case RoomChangeItem::Kind::status:
        break;  // requests are never rendered
    }
  }
  return out;
}

}  // namespace parley::adapters::irc
