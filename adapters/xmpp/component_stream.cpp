#include "adapters/xmpp/component_stream.hpp"

#include <openssl/evp.h>

#include "adapters/xmpp/stream_open.hpp"
#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

std::string component_handshake(std::string_view stream_id, std::string_view secret) {
  std::string input;
  input.reserve(stream_id.size() + secret.size());
  input.append(stream_id).append(secret);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), md, &len, EVP_sha1(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 0xf];
  }
  return hex;
}

ComponentStream::ComponentStream(std::string domain, std::string secret, px::FramerLimits limits)
    : domain_(std::move(domain)), secret_(std::move(secret)), framer_(limits) {}

std::string ComponentStream::opening() const {
  // §2: the component names the domain it serves in 'to'.
  std::string out =
      "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
      "xmlns:stream='http://etherx.jabber.org/streams' to='";
  px::escape_attr(out, domain_);
  out += "'>";
  return out;
}

ComponentStream::Step ComponentStream::close(std::size_t consumed, std::string why) {
  state_ = State::closed;
  reason_ = std::move(why);
  return {Event::closed, consumed};
}

ComponentStream::Step ComponentStream::feed(std::string_view data, std::string& out) {
  if (state_ == State::closed) return {Event::closed, 0};
  // The last stanza was handled (stanza()): dropped before the framer starts the next one,
  // which it then cuts into that one's block (protocols/xmpp/stanza_buffer.hpp).
  stanza_.reset();
  std::size_t used = 0;
  while (true) {
    auto r = framer_.feed(data.substr(used));
    used += r.consumed;
    switch (r.status) {
      case px::StreamFramer::Status::need_more:
        return {Event::none, used};
      case px::StreamFramer::Status::error:
        return close(used, std::string("stream ") + std::string(px::to_string(framer_.error())) + ": " +
                               framer_.error_text());
      case px::StreamFramer::Status::stream_end:
        return close(used, "the server closed the stream");
      case px::StreamFramer::Status::header: {
        const auto& h = framer_.header();
        auto scope = std::make_shared<px::StreamNamespaces>(header_namespaces(h));
        const std::string id(h.attr("id"));
        const bool ok_ns = scope->default_ns == kComponentNs;
        ns_ = std::move(scope);
        framer_.release_header();
        if (!ok_ns) return close(used, "the server's stream is not jabber:component:accept");
        if (id.empty()) return close(used, "the server's stream header has no id");
        out += "<handshake>" + component_handshake(id, secret_) + "</handshake>";
        state_ = State::handshake;
        continue;
      }
      case px::StreamFramer::Status::stanza:
        break;
    }
    auto s = px::Stanza::parse(framer_.take_stanza(), ns_, framer_.stanza_prefixed());
    if (!s) return close(used, "stream not-well-formed: a stanza pugixml refused");
    const std::string_view name = s->name();
    if (name == "error" && px::namespace_of(s->root(), *ns_) == px::ns::stream) {
      // RFC 6120 §4.9: the first child is the condition, an optional <text/> explains.
      std::string why = "stream error";
      for (auto c : s->root().children()) {
        if (c.type() != pugi::node_element) continue;
        const std::string_view local = px::local_name(c);
        if (local == "text")
          why += std::string(": ") + c.text().get();
        else if (why == "stream error")
          why += " <" + std::string(local) + "/>";
      }
      if (state_ == State::handshake) why += " (handshake refused: check xmpp.component.secret and domain)";
      return close(used, std::move(why));
    }
    if (state_ == State::handshake) {
      if (name != "handshake") return close(used, "expected <handshake/>, got <" + std::string(name) + "/>");
      state_ = State::ready;
      return {Event::ready, used};
    }
    stanza_ = std::move(s);
    return {Event::stanza, used};
  }
}

}  // namespace parley::adapters::xmpp
