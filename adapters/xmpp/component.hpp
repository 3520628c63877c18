#pragma once
// XEP-0114: Parley attached to another XMPP server (Prosody, ejabberd, Openfire) as an
// external component for one domain, serving the IRC gateway there. The server's stanzas to
// the domain go to the gateway (port.hpp: copies, 'from' as the server stamped it); the
// gateway's output goes back over the same stream. The link is kept up by a Reconnector:
// a refused connection, a bad handshake, a stream error or a server restart is logged and
// retried with backoff. When an attached stream is lost every puppet QUITs: the server's
// users are gone with it (they join again once it is back).
//
// Threading: everything on the gateway's strand (the core strand), like the gateway.
//
// Output is coalesced: the stanzas the gateway produces in one reactor round (an IRC line
// seen by ten puppets is ten stanzas) go out in one write, flushed by one task posted to the
// io_context behind the reads of that round, as Biboumi does with its write buffer. One
// write syscall per stanza cost more CPU than the stanza itself, and each write wakes the
// XMPP server (bench/gateway_vs_biboumi.py). What a read of the stream that handed on at
// most one stanza produces (the stanza answered at once, a deferred read's copies:
// Puppet::expect_line) goes out when that read ends instead, carrying the read's ACK (net.hpp
// Limits::ack_rides_answer), unless a flush is posted already (read_ended).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "adapters/gateway/port.hpp"
#include "adapters/xmpp/component_stream.hpp"
#include "adapters/xmpp/iq_answer_watch.hpp"
#include "protocols/common/backoff.hpp"
#include "protocols/common/net.hpp"
#include "protocols/common/reconnector.hpp"
#include "protocols/xmpp/jid.hpp"

namespace parley::adapters::gateway {
class Gateway;
}

namespace parley::adapters::xmpp {

struct ComponentOptions {
  std::string domain;  // xmpp.component.domain
  std::string host;    // xmpp.component.server
  std::uint16_t port = 0;
  std::string secret;
  px::FramerLimits limits;  // xmpp.c2s.limits: the same bounds as a client stream
  protocols::BackoffPolicy backoff;
  std::chrono::milliseconds handshake_timeout{30'000};  // connect -> <handshake/>
};

class ComponentLink;

// Something else served on the component's domain besides the gateway: a configured bridge's
// MUC occupants (adapters/bridge/muc_endpoint), JIDs of the form DOMAIN/RESOURCE. It sees
// each stanza first and takes those addressed to it; it is told when the stream attaches
// and detaches (its MUC presences are gone with the stream).
class ComponentClient {
 public:
  virtual ~ComponentClient() = default;
  virtual bool on_component_stanza(px::Stanza& s, const px::Jid& to) = 0;
  virtual void on_component_attached(bool attached) = 0;
};

class Component : public std::enable_shared_from_this<Component> {
 public:
  Component(const protocols::Strand& strand, ComponentOptions options);
  ~Component();

  // The gateway's output: sent over the stream while attached, dropped otherwise (the
  // users it is for are not reachable then).
  gateway::XmppOut output();
  // The same for stanzas in parts (Gateway::set_output_parts), appended as they are.
  gateway::XmppOutParts output_parts();
  // ---- the strand ----
  void start(gateway::Gateway* gw);
  void stop();
  bool attached() const { return attached_; }
  const std::string& domain() const { return options_.domain; }
  // ---- the strand: clients (ComponentClient) and what they send ----
  void add_client(ComponentClient* c) { clients_.push_back(c); }
  void remove_client(ComponentClient* c) { std::erase(clients_, c); }
  void send(std::string_view xml);
  void send_parts(std::string_view a, std::string_view b, std::string_view c);

  // ComponentLink's calls (the strand).
  void on_attached();
  // Behind a firewall per stanza: one that throws is logged (and answered with an error if it
  // was the gateway's), the link stays.
  void on_stanza(px::Stanza& s);
  void on_link_closed(std::string_view reason);
  // Around the stanzas of one read: what they produce is written at read_ended() after a
  // single stanza, else by the posted flush. read_aborted: the read threw past on_stanza's
  // firewall (not a std::exception); the link closes.
  void read_began() { in_read_ = true; }
  void read_ended(std::size_t stanzas);
  void read_aborted() { in_read_ = false; }

 private:
  void flush();
  void appended();    // after pending_ grew: flush now or once this turn
  void post_flush();  // once this turn, behind the reads of the same reactor round
  void stanza_failed(const px::Stanza& s, std::string_view what, bool answer);

  protocols::Strand strand_;
  ComponentOptions options_;
  gateway::Gateway* gw_ = nullptr;
  std::shared_ptr<protocols::Reconnector> reconnector_;
  std::shared_ptr<ComponentLink> link_;
  bool attached_ = false;
  bool stopped_ = false;
  std::vector<ComponentClient*> clients_;
  std::string pending_;  // stanzas of this strand turn; bounded by kFlushAt, then sent at once
  bool flush_posted_ = false;
  bool in_read_ = false;  // inside the link's read (read_began): nothing posted until its end
  std::size_t stanzas_failed_ = 0;  // thrown in on_stanza's firewall, for bounded logging
  IqAnswerWatch iq_watch_;          // while the gateway handles an iq request
};

}  // namespace parley::adapters::xmpp
