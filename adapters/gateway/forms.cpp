#include "adapters/gateway/forms.hpp"

#include <set>

#include "protocols/common/ascii.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::gateway {

using protocols::ascii_fold;
using protocols::xmpp::XmlWriter;

namespace {
constexpr std::string_view kFormType = "FORM_TYPE";

std::vector<std::string> one(const std::optional<std::string>& v) {
  return v ? std::vector<std::string>{*v} : std::vector<std::string>{};
}
std::vector<std::string> one_bool(const std::optional<bool>& v) {
  return v ? std::vector<std::string>{*v ? "1" : "0"} : std::vector<std::string>{};
}
template <class N>
std::vector<std::string> one_num(const std::optional<N>& v) {
  return v ? std::vector<std::string>{std::to_string(*v)} : std::vector<std::string>{};
}

// The submitted fields by var, each at most once, only the ones this form knows
// (FORM_TYPE aside): anything else is refused, so a typo is an error, not a no-op.
std::optional<std::string> index_fields(const std::vector<FormFieldIn>& fields,
                                        std::initializer_list<std::string_view> known,
                                        std::initializer_list<std::string_view> multi,
                                        std::vector<const FormFieldIn*>& out) {
  std::set<std::string_view> seen;
  for (const auto& f : fields) {
    if (f.var == kFormType) continue;
    bool ok = false;
    for (auto k : known) ok |= f.var == k;
    if (!ok) return "unknown field '" + f.var.substr(0, 64) + "'";
    if (!seen.insert(f.var).second) return "field '" + f.var + "' given twice";
    bool is_multi = false;
    for (auto m : multi) is_multi |= f.var == m;
    if (!is_multi && f.values.size() > 1) return "field '" + f.var + "' takes one value";
    for (const auto& v : f.values)
      if (v.size() > kMaxFieldValue) return "field '" + f.var + "' is too long";
    out.push_back(&f);
  }
  return std::nullopt;
}

std::string value_of(const FormFieldIn& f) { return f.values.empty() ? std::string() : f.values.front(); }

// Validates one single-valued setting into a put (or a del when empty).
std::optional<std::string> setting(const FormFieldIn& f, const core::GatewaySetting& key,
                                   SettingsChange& out) {
  const std::string v = value_of(f);
  core::GatewaySetting row = key;
  row.name = f.var;
  if (v.empty()) {
    if (f.var != "sasl_password") out.del.push_back(row);  // an empty password: keep it
    return std::nullopt;
  }
  std::optional<std::string> bad;
  if (f.var == "nick") bad = check_nick(v);
  if (f.var == "realname") bad = check_realname(v);
  if (f.var == "sasl_user" || f.var == "sasl_password") bad = check_sasl(v);
  if (f.var == "port" && !parse_uint(v, 1, 65535)) bad = "port: an integer in 1..65535";
  if ((f.var == "tls" || f.var == "verify") && !parse_bool(v))
    bad = f.var + ": a boolean (0, 1, false, true)";
  if (f.var == "encoding" && v != "latin1" && v != "reject") bad = "encoding: latin1 or reject";
  if (f.var == "throttle_burst" && !parse_uint(v, 0, 10000)) bad = "throttle_burst: an integer in 0..10000";
  if (f.var == "throttle_interval_ms" && !parse_uint(v, 1, 600000))
    bad = "throttle_interval_ms: an integer in 1..600000";
  if (bad) return bad;
  // Booleans are stored in one spelling.
  if (f.var == "tls" || f.var == "verify")
    row.value = *parse_bool(v) ? "1" : "0";
  else
    row.value = v;
  out.put.push_back(std::move(row));
  return std::nullopt;
}
}  // namespace

std::string render_form(const Form& f) {
  std::string out;
  XmlWriter w(out);
  w.open("x").attr("xmlns", "jabber:x:data").attr("type", f.type);
  if (!f.title.empty()) w.element("title", f.title);
  if (!f.instructions.empty()) w.element("instructions", f.instructions);
  for (const auto& fld : f.fields) {
    w.open("field").attr_if("var", fld.var).attr("type", fld.type).attr_if("label", fld.label);
    for (const auto& o : fld.options) w.open("option").attr("label", o).element("value", o).close();
    for (const auto& v : fld.values) w.element("value", v);
    w.close();
  }
  w.finish();
  return out;
}

Form gateway_form(const UserSettings& s) {
  Form f;
  f.title = "Configure the IRC gateway";
  f.instructions = "Your defaults for every IRC network (a network's own settings come first). Empty: unset.";
  f.fields = {
      {"nick", "text-single", "Nickname", one(s.nick), {}},
      {"realname", "text-single", "Realname (shown by WHOIS)", one(s.realname), {}},
  };
  return f;
}

Form server_form(const UserSettings& s, std::string_view network) {
  const std::string key = ascii_fold(network);
  NetworkSettings n;
  if (auto it = s.networks.find(key); it != s.networks.end()) n = it->second;
  std::vector<std::string> persistent;
  const std::string prefix = key + " ";
  for (const auto& [scope, _] : s.persistent)
    if (scope.compare(0, prefix.size(), prefix) == 0) persistent.push_back(scope.substr(prefix.size()));
  Form f;
  f.title = "Configure IRC network " + std::string(network);
  f.instructions =
      "Used from your next connection to this network. Empty: the gateway's configuration applies.";
  f.fields = {
      {"nick", "text-single", "Nickname", one(n.nick), {}},
      {"realname", "text-single", "Realname (shown by WHOIS)", one(n.realname), {}},
      {"sasl_user", "text-single", "SASL account (empty: no SASL)", one(n.sasl_user), {}},
      // Never sent back: empty keeps the stored one.
      {"sasl_password", "text-private", "SASL password (empty: unchanged)", {}, {}},
      {"port", "text-single", "Port", one_num(n.port), {}},
      {"tls", "boolean", "TLS", one_bool(n.tls), {}},
      {"verify", "boolean", "Verify the server's certificate", one_bool(n.verify), {}},
      {"encoding", "list-single", "Lines that are not UTF-8", one(n.encoding), {"latin1", "reject"}},
      {"throttle_burst",
       "text-single",
       "Throttle: lines at once (0: the network's; never above it)",
       one_num(n.throttle_burst),
       {}},
      {"throttle_interval_ms",
       "text-single",
       "Throttle: ms per line (never below the network's)",
       one_num(n.throttle_interval_ms),
       {}},
      {"persistent_channels", "text-multi", "Persistent channels (one per line)", persistent, {}},
  };
  return f;
}

Form channel_form(const UserSettings& s, std::string_view network, std::string_view channel) {
  Form f;
  f.title = "Configure " + std::string(channel);
  f.instructions =
      "Persistent: stay in the channel while you are offline, and rejoin it when the gateway restarts.";
  f.fields = {{"persistent",
               "boolean",
               "Persistent",
               {s.persistent.count(channel_scope(network, channel)) ? "1" : "0"},
               {}}};
  return f;
}

std::optional<std::string> submit_gateway(const std::vector<FormFieldIn>& fields, const std::string& gateway,
                                          const std::string& owner, SettingsChange& out) {
  std::vector<const FormFieldIn*> got;
  if (auto e = index_fields(fields, {"nick", "realname"}, {}, got)) return e;
  const core::GatewaySetting key{gateway, owner, "", "", ""};
  for (const auto* f : got)
    if (auto e = setting(*f, key, out)) return e;
  return std::nullopt;
}

std::optional<std::string> submit_server(const std::vector<FormFieldIn>& fields, const UserSettings& current,
                                         const std::string& gateway, const std::string& owner,
                                         std::string_view network, std::string_view label,
                                         const FormLimits& limits, SettingsChange& out) {
  std::vector<const FormFieldIn*> got;
  if (auto e = index_fields(fields,
                            {"nick", "realname", "sasl_user", "sasl_password", "port", "tls", "verify",
                             "encoding", "throttle_burst", "throttle_interval_ms", "persistent_channels"},
                            {"persistent_channels"}, got))
    return e;
  const std::string net = ascii_fold(network);
  const core::GatewaySetting key{gateway, owner, net, "", ""};
  for (const auto* f : got) {
    if (f->var != "persistent_channels") {
      if (auto e = setting(*f, key, out)) return e;
      continue;
    }
    // The whole list: channels not in it stop being persistent. A text-multi value may
    // hold several lines (XEP-0004 §3.3): each line is a channel.
    std::set<std::string> want;
    for (const auto& v : f->values) {
      std::string_view rest = v;
      while (!rest.empty()) {
        auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (line.empty()) continue;
        if (auto e = check_channel(line)) return "persistent_channels: " + *e;
        want.insert(ascii_fold(line));
        if (want.size() > limits.max_channels)
          return "persistent_channels: too many channels (irc.max_channels)";
      }
    }
    const std::string prefix = net + " ";
    for (const auto& [scope, _] : current.persistent)
      if (scope.compare(0, prefix.size(), prefix) == 0 && !want.count(scope.substr(prefix.size())))
        out.del.push_back({gateway, owner, scope, "persistent", ""});
    for (const auto& c : want)
      if (!current.persistent.count(channel_scope(net, c)))
        out.put.push_back({gateway, owner, channel_scope(net, c), "persistent", std::string(label)});
  }
  return std::nullopt;
}

std::optional<std::string> submit_channel(const std::vector<FormFieldIn>& fields, const std::string& gateway,
                                          const std::string& owner, std::string_view network,
                                          std::string_view channel, std::string_view label,
                                          SettingsChange& out) {
  std::vector<const FormFieldIn*> got;
  if (auto e = index_fields(fields, {"persistent"}, {}, got)) return e;
  for (const auto* f : got) {
    auto b = parse_bool(value_of(*f));
    if (!b) return "persistent: a boolean (0, 1, false, true)";
    core::GatewaySetting row{gateway, owner, channel_scope(network, channel), "persistent",
                             std::string(label)};
    (*b ? out.put : out.del).push_back(std::move(row));
  }
  return std::nullopt;
}

}  // namespace parley::adapters::gateway
