#include "protocols/xmpp/ws_framing.hpp"

#include <pugixml.hpp>

#include "protocols/xmpp/writer.hpp"

namespace parley::protocols::xmpp {

namespace {

constexpr std::string_view kSpace = " \t\r\n";

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// The start tag s[i..] ('<' at i): the index of its '>' (quotes honoured), npos if incomplete.
std::size_t tag_end(std::string_view s, std::size_t i) {
  char quote = 0;
  for (std::size_t j = i + 1; j < s.size(); ++j) {
    const char c = s[j];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '>') {
      return j;
    }
  }
  return std::string_view::npos;
}

void append_element(std::string& message, std::string_view element, std::string_view name) {
  // A WebSocket message is a document of its own (§3.3.3): declare what our stream header
  // declared for everything it contained.
  const auto tag = element.substr(0, tag_end(element, 0));
  const auto at = 1 + name.size();
  std::string_view decl;
  if (name.find(':') == std::string_view::npos) {
    if (tag.find("xmlns=") == std::string_view::npos) decl = " xmlns='jabber:client'";
  } else if (name.substr(0, 7) == "stream:" && tag.find("xmlns:stream=") == std::string_view::npos) {
    decl = " xmlns:stream='http://etherx.jabber.org/streams'";
  }
  message.append(element.substr(0, at));
  message.append(decl);
  message.append(element.substr(at));
}

}  // namespace

std::size_t element_end(std::string_view s, std::size_t start, bool& error, std::string_view* name) {
  error = false;
  int depth = 0;
  std::size_t i = start;
  for (;;) {
    i = s.find('<', i);
    if (i == std::string_view::npos || i + 1 >= s.size()) return std::string_view::npos;
    const char c = s[i + 1];
    if (c == '!' || c == '?') {
      error = true;
      return std::string_view::npos;
    }
    const auto end = tag_end(s, i);
    if (end == std::string_view::npos) return std::string_view::npos;
    if (c == '/') {
      if (depth == 0) {
        error = true;
        return std::string_view::npos;
      }
      if (--depth == 0) return end + 1;
    } else {
      if (depth == 0 && name) {
        const auto n = s.substr(i + 1, end - i - 1);
        *name = n.substr(0, n.find_first_of(" \t\r\n/"));
      }
      if (s[end - 1] != '/')
        ++depth;
      else if (depth == 0)
        return end + 1;
    }
    i = end + 1;
  }
}

bool XmppWsFraming::on_message(std::string_view payload, bool text, std::string& app, const char*& why,
                               ws::CloseCode& code) {
  if (!text) {
    why = "XMPP over WebSocket takes text messages only";
    code = ws::CloseCode::unsupported;
    return false;
  }
  std::string_view m = trim(payload);
  bool error = false;
  std::string_view name;
  if (m.empty() || m[0] != '<' || element_end(m, 0, error, &name) != m.size()) {
    why = "a WebSocket message must hold exactly one XML element (RFC 7395 3.3.3)";
    code = ws::CloseCode::policy;
    return false;
  }
  if (name != "open" && name != "close") {
    app.append(m);
    return true;
  }
  pugi::xml_document doc;
  std::string copy(m);
  if (!doc.load_buffer_inplace(copy.data(), copy.size(), pugi::parse_minimal)) {
    why = "malformed framing element";
    code = ws::CloseCode::policy;
    return false;
  }
  const auto e = doc.document_element();
  if (std::string_view(e.attribute("xmlns").value()) != kFramingNs) {
    why = "open/close outside the framing namespace (RFC 7395 3.3.1)";
    code = ws::CloseCode::policy;
    return false;
  }
  if (name == "close") {
    if (!peer_closed_) app += "</stream:stream>";
    peer_closed_ = true;
    return true;
  }
  // §3.3.1 <open/> (and §3.4 restarts after SASL: a new <open/>) -> a stream header the
  // c2s stream checks exactly like a TCP client's.
  opened_ = true;
  app += "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'";
  for (const char* a : {"to", "from", "version", "xml:lang", "id"}) {
    const auto v = e.attribute(a);
    if (!v) continue;
    app += ' ';
    app += a;
    app += "='";
    escape_attr(app, v.value());
    app += '\'';
  }
  app += '>';
  return true;
}

void XmppWsFraming::on_peer_close(std::string& app) {
  // A WebSocket closed without <close/> ends the stream all the same (§3.6.2).
  if (opened_ && !peer_closed_) app += "</stream:stream>";
  peer_closed_ = true;
}

void XmppWsFraming::on_outgoing(std::string_view app, std::string& wire) {
  std::string_view in = app;
  if (!pending_.empty()) {
    pending_.append(app);
    in = pending_;
  }
  std::size_t i = 0;
  std::string message;
  while (i < in.size()) {
    i = in.find('<', i);
    if (i == std::string_view::npos) {
      i = in.size();  // whitespace keepalives: nothing to frame
      break;
    }
    const auto rest = in.substr(i);
    if (rest.substr(0, 2) == "<?") {  // the XML declaration
      const auto e = rest.find("?>");
      if (e == std::string_view::npos) break;
      i += e + 2;
      continue;
    }
    if (rest.substr(0, 16) == "</stream:stream>") {
      ws::write_frame(wire, ws::Opcode::text, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
      i += 16;
      continue;
    }
    if (rest.substr(0, 15) == "<stream:stream ") {
      const auto e = tag_end(rest, 0);
      if (e == std::string_view::npos) break;
      // Our header's attributes minus the namespaces a framing element does not carry.
      std::string attrs(rest.substr(15, e - 15));
      for (std::string_view drop :
           {"xmlns='jabber:client' ", "xmlns:stream='http://etherx.jabber.org/streams' "}) {
        if (auto p = attrs.find(drop); p != std::string::npos) attrs.erase(p, drop.size());
      }
      message = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' ";
      message += attrs;
      message += "/>";
      ws::write_frame(wire, ws::Opcode::text, message);
      i += e + 1;
      continue;
    }
    bool error = false;
    std::string_view name;
    const auto e = element_end(rest, 0, error, &name);
    if (error) {  // not ours to send; framed as it is rather than lost
      ws::write_frame(wire, ws::Opcode::text, rest);
      i = in.size();
      break;
    }
    if (e == std::string_view::npos) break;
    message.clear();
    append_element(message, rest.substr(0, e), name);
    ws::write_frame(wire, ws::Opcode::text, message);
    i += e;
  }
  std::string left(in.substr(std::min(i, in.size())));
  pending_ = std::move(left);
}

}  // namespace parley::protocols::xmpp
