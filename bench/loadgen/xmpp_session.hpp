// XMPP c2s client pieces shared by the XMPP workloads and the mixed chat workload: a
// minimal stream framer, attribute lookup, and a Session that logs in the way RFC 6120
// orders it (stream header, STARTTLS accepting any certificate, SASL PLAIN, stream restart,
// resource binding, the legacy session if not optional, initial presence).
#pragma once

#include <openssl/evp.h>

#include "run.hpp"

namespace loadgen {

// Cuts the stream header and top-level elements out of the XMPP stream. Just enough XML
// for well-behaved servers: tags are scanned with quote tracking, depth is counted.
class Framer {
 public:
  enum class Kind { header, stanza, close };
  struct Item {
    Kind kind;
    std::size_t begin, end;
  };
  void restart() { in_stream_ = false; }

  std::optional<Item> next(std::string_view d) {
    std::size_t i = 0, n = d.size();
    for (;;) {
      while (i < n && d[i] != '<') ++i;  // whitespace keep-alives and text between stanzas
      if (i + 1 >= n) return std::nullopt;
      if (d[i + 1] != '?') break;
      auto e = d.find("?>", i);
      if (e == std::string_view::npos) return std::nullopt;
      i = e + 2;
    }
    std::size_t begin = i;
    if (!in_stream_) {
      auto e = tag_end(d, i);
      if (!e) return std::nullopt;
      in_stream_ = true;
      return Item{Kind::header, begin, *e};
    }
    if (d[i + 1] == '/') {
      auto gt = d.find('>', i);
      if (gt == std::string_view::npos) return std::nullopt;
      return Item{Kind::close, begin, gt + 1};
    }
    int depth = 0;
    for (;;) {
      auto lt = d.find('<', i);
      if (lt == std::string_view::npos || lt + 1 >= n) return std::nullopt;
      if (d[lt + 1] == '/') {
        auto gt = d.find('>', lt);
        if (gt == std::string_view::npos) return std::nullopt;
        i = gt + 1;
        if (--depth == 0) return Item{Kind::stanza, begin, i};
        continue;
      }
      auto e = tag_end(d, lt);
      if (!e) return std::nullopt;
      i = *e;
      if (d[i - 2] == '/') {
        if (depth == 0) return Item{Kind::stanza, begin, i};
      } else {
        ++depth;
      }
    }
  }

 private:
  static std::optional<std::size_t> tag_end(std::string_view d, std::size_t lt) {
    char quote = 0;
    for (std::size_t i = lt + 1; i < d.size(); ++i) {
      char c = d[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '>') {
        return i + 1;
      }
    }
    return std::nullopt;
  }
  bool in_stream_ = false;
};

inline std::string_view start_tag(std::string_view s) { return s.substr(0, s.find('>') + 1); }

// Value of attribute `name` in the start tag of `s` (either quote style); empty if absent.
inline std::string_view attr(std::string_view s, std::string_view name) {
  auto tag = start_tag(s);
  for (std::size_t p = 0; (p = tag.find(name, p)) != std::string_view::npos; p += name.size()) {
    if (p == 0 || tag[p - 1] != ' ') continue;
    auto q = p + name.size();
    if (q + 1 >= tag.size() || tag[q] != '=') continue;
    char quote = tag[q + 1];
    auto e = tag.find(quote, q + 2);
    if (e == std::string_view::npos) return {};
    return tag.substr(q + 2, e - q - 2);
  }
  return {};
}

inline bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
inline bool contains(std::string_view s, std::string_view p) { return s.find(p) != std::string_view::npos; }

inline std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

inline std::string clip(std::string_view s) { return std::string(s.substr(0, 600)); }

struct Account {
  std::string user, password;
};

struct XmppOpts {
  Common com;
  std::string domain, muc, prefix, password;
};

inline XmppOpts parse_xmpp(Options& o) {
  XmppOpts x{parse_common(o, 5222), "", "", "", ""};
  x.domain = o.str("domain", "localhost");
  x.muc = o.str("muc", "conference." + x.domain);
  x.prefix = o.str("user-prefix", "u");
  x.password = o.str("password", "pw");
  return x;
}

class Session {
 public:
  Session(Run& run, std::string name)
      : conn(std::make_shared<Conn>(run.io, run.tls)), user(std::move(name)) {}
  std::shared_ptr<Conn> conn;
  std::string user, jid;

  // The next header/stanza; the view lives until the next call. Fails on stream errors.
  awaitable<std::pair<Framer::Kind, std::string_view>> next() {
    for (;;) {
      if (auto it = framer_.next(conn->data())) {
        auto s = conn->data().substr(it->begin, it->end - it->begin);
        conn->consume(it->end);
        if (it->kind == Framer::Kind::close) throw Failure(user + ": server closed the stream");
        if (starts(s, "<stream:error")) throw Failure(user + ": stream error: " + clip(s));
        co_return std::pair{it->kind, s};
      }
      co_await conn->read_more();
    }
  }

  awaitable<std::string_view> expect(std::string_view prefix, const char* what) {
    auto [kind, s] = co_await next();
    if (kind == Framer::Kind::header || !starts(s, prefix))
      throw Failure(user + ": expected " + what + ", got: " + clip(s));
    co_return s;
  }

  awaitable<std::string> open_stream(const std::string& domain) {
    framer_.restart();
    conn->send("<?xml version='1.0'?><stream:stream to='" + domain +
               "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
    auto [kind, h] = co_await next();
    if (kind != Framer::Kind::header || !starts(h, "<stream:stream"))
      throw Failure(user + ": expected a stream header, got: " + clip(h));
    auto f = co_await expect("<stream:features", "<stream:features/>");
    co_return std::string(f);
  }

  // Waits for the iq reply with `id` (skipping other stanzas); fails on type='error'.
  awaitable<std::string> iq_reply(std::string_view id, const char* what, bool error_ok_if_conflict = false) {
    for (;;) {
      auto [kind, s] = co_await next();
      if (!starts(s, "<iq") || attr(s, "id") != id) continue;
      if (attr(s, "type") == "result") co_return std::string(s);
      if (error_ok_if_conflict && contains(s, "<conflict")) co_return std::string(s);
      throw Failure(user + ": " + what + " failed: " + clip(s));
    }
  }

  // Connect, STARTTLS if offered; returns the features of the (secured) stream.
  awaitable<std::string> connect_tls(const XmppOpts& x, const asio::ip::address& source = {}) {
    co_await conn->connect(x.com.endpoint(), source);
    auto f = co_await open_stream(x.domain);
    if (contains(f, "<starttls")) {
      conn->send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      co_await expect("<proceed", "<proceed/> to STARTTLS");
      co_await conn->start_tls();
      f = co_await open_stream(x.domain);
    }
    co_return f;
  }

  awaitable<void> login(const XmppOpts& x, const std::string& password, const std::string& resource,
                        bool presence = true, const asio::ip::address& source = {}) {
    auto f = co_await connect_tls(x, source);
    if (!contains(f, ">PLAIN<")) throw Failure(user + ": server offers no SASL PLAIN: " + clip(f));
    std::string creds;
    creds.push_back('\0');
    creds += user;
    creds.push_back('\0');
    creds += password;
    conn->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + base64(creds) +
               "</auth>");
    auto [kind, s] = co_await next();
    if (!starts(s, "<success")) throw Failure(user + ": SASL PLAIN refused: " + clip(s));
    f = co_await open_stream(x.domain);
    conn->send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" +
               resource + "</resource></bind></iq>");
    auto r = co_await iq_reply("bind1", "resource binding");
    auto a = r.find("<jid>"), b = r.find("</jid>");
    jid = (a != std::string::npos && b != std::string::npos) ? r.substr(a + 5, b - a - 5) : "";
    if (contains(f, "urn:ietf:params:xml:ns:xmpp-session") && !contains(f, "<optional")) {
      conn->send("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
      co_await iq_reply("sess1", "session establishment");
    }
    if (presence) conn->send("<presence/>");
  }

  awaitable<void> register_account(const XmppOpts& x, const std::string& password) {
    co_await connect_tls(x);
    conn->send("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>" + user +
               "</username><password>" + password + "</password></query></iq>");
    co_await iq_reply("reg1", "in-band registration", true);
    conn->send("</stream:stream>");
  }

  // Answers pings (XEP-0199) from the server; other iqs are ignored.
  void housekeeping(std::string_view s) {
    if (starts(s, "<iq") && attr(s, "type") == "get" && contains(s, "urn:xmpp:ping")) {
      std::string reply = "<iq type='result' id='" + std::string(attr(s, "id")) + "'";
      if (auto from = attr(s, "from"); !from.empty()) reply += " to='" + std::string(from) + "'";
      conn->send(reply + "/>");
    }
  }

  void bye() {
    if (!conn->dead()) conn->send("<presence type='unavailable'/></stream:stream>");
  }

 private:
  Framer framer_;
};

// Joins a MUC room (XEP-0045 §7.2) as `nick` without history, waiting for the self-presence;
// a new room (status 201) is accepted with its default configuration.
awaitable<void> muc_join(Session& s, const std::string& room_jid, const std::string& nick);

}  // namespace loadgen
