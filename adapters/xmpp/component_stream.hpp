#pragma once
// The component side of a XEP-0114 stream (jabber:component:accept) as a socket-free state
// machine: opening() is what to send first, feed() the server's bytes. It answers the
// server's stream header with the handshake (§3: lower-case hex SHA-1 of the stream id
// followed by the shared secret), becomes ready at the server's empty <handshake/>, and
// then hands out every stanza. A stream error, a refused handshake, a framing error or the
// end of the stream closes it with a reason for the log (the owner reconnects with backoff).
// Bounded by the same FramerLimits as c2s streams (xmpp.c2s.limits).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/xmpp/framer.hpp"
#include "protocols/xmpp/stanza.hpp"

namespace parley::adapters::xmpp {

namespace px = protocols::xmpp;

inline constexpr std::string_view kComponentNs = "jabber:component:accept";

// XEP-0114 §3: hex(SHA-1(stream id + secret)), lower case.
std::string component_handshake(std::string_view stream_id, std::string_view secret);

class ComponentStream {
 public:
  enum class State : std::uint8_t { header, handshake, ready, closed };
  enum class Event : std::uint8_t { none, ready, stanza, closed };
  struct Step {
    Event event = Event::none;
    std::size_t consumed = 0;
  };

  ComponentStream(std::string domain, std::string secret, px::FramerLimits limits = {});

  // The stream header the component opens with (§2).
  std::string opening() const;
  // Scans data; stops after an event or at the end of data. What must be sent in answer
  // (the handshake) is appended to `out`. After closed, every call returns closed again.
  Step feed(std::string_view data, std::string& out);
  // The stanza of the last Event::stanza, until the next feed().
  px::Stanza& stanza() { return *stanza_; }
  State state() const { return state_; }
  // Why the stream closed (for the log).
  const std::string& reason() const { return reason_; }

 private:
  Step close(std::size_t consumed, std::string why);

  std::string domain_;
  std::string secret_;
  px::StreamFramer framer_;
  std::shared_ptr<const px::StreamNamespaces> ns_;
  std::optional<px::Stanza> stanza_;
  State state_ = State::header;
  std::string reason_;
};

}  // namespace parley::adapters::xmpp
