#include "config/loader.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "config/sections.hpp"

namespace parley::config {

namespace {

// A protocol section is on when present and not empty, unless it says `enabled: false`
// (a way to switch a protocol off without deleting its settings).
template <class Section, class Parse>
void protocol_section(Reader& root, std::string_view key, Section& out, Parse parse) {
  Reader r = root.map(key);
  bool enabled = true;
  r.boolean("enabled", enabled);
  parse(r, out);
  r.finish();
  out.enabled = r.has_entries() && enabled;
}

// Two listeners of the same transport on the same address cannot both bind.
void check_listener_clash(const Config& c, Reader& root) {
  std::map<std::string, std::string> seen;  // "tcp 127.0.0.1:6667" -> "irc.listen"
  auto add = [&](const std::vector<ListenAddress>& list, const std::string& key, const std::string& section,
                 const std::string& sub) {
    for (const auto& a : list) {
      bool datagram = a.transport == Transport::udp;
      std::string id = std::string(datagram ? "udp " : "tcp ") + a.endpoint();
      auto [it, inserted] = seen.emplace(id, key);
      if (!inserted) {
        Reader r = root.map(section);
        r.ignore_unknown();
        std::string message = "address " + a.endpoint() + " is also used by " + it->second;
        if (sub.empty()) {
          r.error(key.substr(key.rfind('.') + 1), message);
        } else {
          Reader s = r.map(sub);
          s.ignore_unknown();
          s.error(key.substr(key.rfind('.') + 1), message);
        }
      }
    }
  };
  if (c.irc.enabled) add(c.irc.listen, "irc.listen", "irc", "");
  if (c.xmpp.enabled) add(c.xmpp.c2s.listen, "xmpp.c2s.listen", "xmpp", "c2s");
  if (c.sip.enabled) add(c.sip.listen, "sip.listen", "sip", "");
  if (c.psyc.enabled) add(c.psyc.listen, "psyc.listen", "psyc", "");
  if (c.line.enabled) add(c.line.listen, "line.listen", "line", "");
  if (c.http.enabled) {
    add(c.http.listen, "http.listen", "http", "");
    add(c.http.metrics_listen, "http.metrics_listen", "http", "");
  }
}

// Errors in file order, whatever order the section parsers found them in.
std::vector<Diagnostic> sorted(Diagnostics& d) {
  std::vector<Diagnostic> list = d.take();
  std::stable_sort(list.begin(), list.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return list;
}

Result<Config> load_node(const YAML::Node& doc, const std::string& name) {
  Diagnostics diagnostics(name);
  Config c;
  c.path = name;
  YAML::Mark top;  // 1:1
  {
    Reader root(doc, "", diagnostics, top);
    {
      Reader server = root.map("server");
      parse_server(server, c.server);
    }
    {
      Reader auth = root.map("auth");
      parse_auth(auth, c.auth);
    }
    parse_accounts(root, c.accounts);
    protocol_section(root, "irc", c.irc, parse_irc);
    protocol_section(root, "xmpp", c.xmpp, parse_xmpp);
    protocol_section(root, "sip", c.sip, parse_sip);
    protocol_section(root, "psyc", c.psyc, parse_psyc);
    protocol_section(root, "line", c.line, parse_line);
    protocol_section(root, "http", c.http, parse_http);
    parse_bridges(root, c, c.bridges);
    root.finish();
  }
  if (!diagnostics.empty()) return sorted(diagnostics);

  // Defaults that depend on other sections.
  if (c.xmpp.muc.domain.empty()) c.xmpp.muc.domain = "conference." + c.server.domain;
  if (c.sip.domain.empty()) c.sip.domain = c.server.domain;
  if (c.irc.gateway_domain.empty()) c.irc.gateway_domain = "irc." + c.server.domain;

  // Cross-section checks report through fresh readers so errors carry the right marks.
  {
    Reader root(doc, "", diagnostics, top);
    root.ignore_unknown();
    check_listener_clash(c, root);
  }
  if (!diagnostics.empty()) return sorted(diagnostics);
  return c;
}

}  // namespace

Result<Config> load_string(const std::string& text, const std::string& name) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Diagnostics d(name);
    d.error(e.mark, "", "YAML syntax error: " + e.msg);
    return d.take();
  }
  return load_node(doc, name);
}

Result<Config> load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::vector<Diagnostic>{Diagnostic{path, 0, 0, "", "cannot open the config file"}};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::vector<Diagnostic>{Diagnostic{path, 0, 0, "", "cannot read the config file"}};
  return load_string(text.str(), path);
}

}  // namespace parley::config
