#include "adapters/xmpp/component.hpp"

#include <spdlog/spdlog.h>

#include <bit>

#include "adapters/common/post_guarded.hpp"
#include "adapters/gateway/gateway.hpp"
#include "adapters/xmpp/errors.hpp"
#include "adapters/xmpp/gateway_route.hpp"
#include "protocols/xmpp/jid.hpp"

namespace parley::adapters::xmpp {

// The socket: bytes -> ComponentStream -> the Component. Closing it always ends in
// Component::on_link_closed (unless detached).
class ComponentLink : public protocols::Connection {
 public:
  ComponentLink(protocols::ConnectedStream s, Limits limits, const ComponentOptions& o, Component* owner)
      : Connection(std::move(s.socket), std::move(s.tls), std::move(s.pending), limits),
        stream_(o.domain, o.secret, o.limits),
        owner_(owner) {}
  void detach() { owner_ = nullptr; }

 protected:
  void on_open() override { send(stream_.opening()); }
  std::size_t on_data(std::string_view data) override {
    if (owner_) owner_->read_began();
    std::size_t stanzas = 0;
    try {
      stanzas = feed_stanzas(data);
    } catch (...) {
      // Nothing is flushed, and the flag must not stay up for whoever comes next. A
      // std::exception is closed by the connection's firewall (on_exception).
      if (owner_) owner_->read_aborted();
      throw;
    }
    if (owner_) owner_->read_ended(stanzas);  // not if detached meanwhile (closed, or the Component gone)
    return data.size();                       // the framer keeps what it needs (bounded by limits)
  }
  void on_deadline(Deadline) override { close("no <handshake/> from the server in time"); }
  void on_close(std::string_view reason) override {
    if (auto* o = std::exchange(owner_, nullptr)) o->on_link_closed(reason);
  }

 private:
  // Returns how many stanzas it handed on.
  std::size_t feed_stanzas(std::string_view data) {
    std::size_t used = 0, stanzas = 0;
    std::string out;
    while (owner_ && !closed()) {
      auto step = stream_.feed(data.substr(used), out);
      used += step.consumed;
      if (!out.empty()) send(std::exchange(out, {}));
      if (!owner_ || closed()) break;  // that write failed: the stream is gone (on_close)
      if (step.event == ComponentStream::Event::none) break;
      if (step.event == ComponentStream::Event::closed) {
        close(stream_.reason());
        break;
      }
      if (step.event == ComponentStream::Event::ready) {
        clear_deadline();
        owner_->on_attached();
      } else {
        ++stanzas;
        owner_->on_stanza(stream_.stanza());
      }
      if (used == data.size()) break;  // feeding nothing would find nothing more
    }
    return stanzas;
  }

  ComponentStream stream_;
  Component* owner_;
};

Component::Component(const protocols::Strand& strand, ComponentOptions options)
    : strand_(strand), options_(std::move(options)) {}

Component::~Component() {
  if (reconnector_) reconnector_->stop();
  if (link_) {
    link_->detach();
    link_->close("component gone");
  }
}

gateway::XmppOut Component::output() {
  return [w = weak_from_this()](std::string_view, std::string xml) {
    if (auto c = w.lock()) c->send(xml);
  };
}

namespace {
// Past this many bytes pending, they go out at once: the buffer stays small however much
// one turn produces (the link's own write-queue bound applies to what it is handed).
constexpr std::size_t kFlushAt = 64 * 1024;
}  // namespace

gateway::XmppOutParts Component::output_parts() {
  return
      [w = weak_from_this()](std::string_view, std::string_view a, std::string_view b, std::string_view c) {
        if (auto self = w.lock()) self->send_parts(a, b, c);
      };
}

void Component::send(std::string_view xml) {
  if (iq_watch_.watching()) iq_watch_.sent(xml);
  if (!attached_ || !link_) return;
  pending_.append(xml);
  appended();
}

void Component::send_parts(std::string_view a, std::string_view b, std::string_view c) {
  if (iq_watch_.watching() && a.starts_with("<iq ")) iq_watch_.sent(std::string(a).append(b).append(c));
  if (!attached_ || !link_) return;
  pending_.append(a).append(b).append(c);
  appended();
}

void Component::appended() {
  if (pending_.size() >= kFlushAt) return flush();
  if (!in_read_) post_flush();
}

void Component::post_flush() {
  if (flush_posted_) return;
  flush_posted_ = true;
  // Behind the puppet reads that the same reactor round made ready, so one IRC line heard
  // by ten puppets goes out in one write. Posted straight onto the strand, it ran after the
  // first of them and ahead of the other nine: two or three writes per line, each a
  // wake-up of the XMPP server.
  post_after_ready(strand_, "xmpp: component flush", [w = weak_from_this()] {
    if (auto c = w.lock()) {
      c->flush_posted_ = false;
      c->flush();
    }
  });
}

// The link's read is over. What a read of at most one stanza produced (the handshake's
// read hands on none) goes out now, carrying the read's ACK, unless a flush is posted
// already (anything appended outside a read since the last flush: a puppet's read, a timer,
// a bridge). A read of several stanzas means they come back-to-back: its output waits for
// the posted flush, with what the other reads of the round produce (at 1,000 msgs/s writing
// at each read cost 6 % more CPU; bench/README.md, session 37).
void Component::read_ended(std::size_t stanzas) {
  in_read_ = false;
  if (pending_.empty()) return;
  if (stanzas <= 1 && !flush_posted_) return flush();
  post_flush();
}

void Component::flush() {
  if (pending_.empty()) return;
  if (attached_ && link_) link_->send(pending_);
  pending_.clear();
}

void Component::start(gateway::Gateway* gw) {
  gw_ = gw;
  protocols::ConnectOptions o;  // XEP-0114 streams are plain TCP (loopback or a private link)
  auto self = weak_from_this();
  reconnector_ = protocols::Reconnector::make(
      strand_, options_.host, options_.port, o, options_.backoff,
      {.on_connected =
           [self](protocols::ConnectedStream s) {
             auto c = self.lock();
             if (!c || c->stopped_) return;
             protocols::Connection::Limits limits;
             limits.handshake_timeout_ms = static_cast<std::uint32_t>(c->options_.handshake_timeout.count());
             limits.close_timeout_ms = 5'000;
             limits.read_ahead = 4096;  // one stream carries every user's stanzas (net.hpp)
             // A stanza to the gateway is answered after an IRC round trip, if at all: the
             // server's next one must not wait for our ACK (net.hpp; Prosody keeps Nagle on).
             limits.quick_ack = true;
             limits.ack_rides_answer = true;  // read_ended()
             c->link_ = std::make_shared<ComponentLink>(std::move(s), limits, c->options_, c.get());
             c->link_->start();
           },
       .on_failed =
           [self](const protocols::ConnectError& e, std::optional<std::chrono::milliseconds> retry) {
             auto c = self.lock();
             if (!c) return;
             spdlog::warn(
                 "xmpp: component {}: cannot reach {}:{}: {}{}", c->options_.domain, c->options_.host,
                 c->options_.port, e.reason,
                 retry ? fmt::format(" (retry in {} ms)", retry->count()) : std::string(" (giving up)"));
           }});
  reconnector_->start();
}

void Component::on_attached() {
  attached_ = true;
  spdlog::info("xmpp: component {} attached to {}:{}", options_.domain, options_.host, options_.port);
  for (auto* c : std::vector(clients_)) c->on_component_attached(true);
}

void Component::on_stanza(px::Stanza& s) {
  const std::string_view name = s.name();
  if (name != "message" && name != "presence" && name != "iq") return;
  auto to = px::parse_jid(s.attr("to"));
  // The server routes only our domain here; anything else (or no valid sender) is dropped.
  if (!to || to->domain != options_.domain) return;
  // The exception firewall of one stanza (STYLE.md): the link carries every user of the
  // gateway, and the connection's own firewall would close it, and with it everyone's
  // puppets. The others never notice.
  try {
    for (auto* c : clients_)
      if (c->on_component_stanza(s, *to)) return;
  } catch (const std::exception& e) {
    // A bridge's MUC traffic: logged only. An error from its occupant is one a MUC kicks
    // it for (Prosody's kickable conditions), over one line.
    return stanza_failed(s, e.what(), false);
  }
  const std::string_view from = s.attr("from");
  if (!gw_ || !px::valid_jid(from)) return;
  // RFC 6120 §8.2.3: one answer to an iq request, so none from the firewall after the
  // gateway's own (iq_answer_watch.hpp).
  const std::string_view type = name == "iq" ? s.attr("type") : std::string_view{};
  const bool request = type == "get" || type == "set";
  if (request) iq_watch_.watch(from, s.attr("id"));
  struct EndWatch {
    IqAnswerWatch& w;
    ~EndWatch() { w.end(); }
  } end_watch{iq_watch_};
  try {
    gw_->on_stanza(gateway_in(s, std::move(*to), std::string(from)));
  } catch (const std::exception& e) {
    stanza_failed(s, e.what(), !(request && iq_watch_.answered()));  // else the sender learns
  }
}

void Component::stanza_failed(const px::Stanza& s, std::string_view what, bool answer) {
  ++stanzas_failed_;
  if (std::has_single_bit(stanzas_failed_))  // 1, 2, 4, 8...: bounded logging
    spdlog::error("xmpp: component {}: a <{} type='{}'/> from {} to {} failed: {} ({} so far)",
                  options_.domain, s.name(), s.attr("type"), s.attr("from"), s.attr("to"), what,
                  stanzas_failed_);
  if (!answer) return;
  if (const std::string reply = failure_reply(s); !reply.empty()) send(reply);
}

void Component::on_link_closed(std::string_view reason) {
  pending_.clear();  // for users of a stream that is gone
  in_read_ = false;  // the link's read that closed it never ends here (on_close detached it)
  const bool was_attached = std::exchange(attached_, false);
  // A local reference: the link may be inside its own call stack.
  auto link = std::move(link_);
  if (stopped_) return;
  if (was_attached) {
    spdlog::warn("xmpp: component {} lost its stream to {}:{}: {}; reconnecting", options_.domain,
                 options_.host, options_.port, reason);
    // At once: a relay bridge queues what it says from here on, for the next stream.
    for (auto* client : std::vector(clients_)) client->on_component_attached(false);
    // Posted: the close may come from inside a puppet's read (a send past the stream's
    // bound, or one that fails, while it hands a line to its users), and drop_all ends the
    // puppets, that one too.
    post_guarded(strand_, "xmpp: component lost", [w = weak_from_this()] {
      auto c = w.lock();
      if (c && !c->stopped_ && c->gw_) c->gw_->drop_all("XMPP server connection lost");
    });
  } else {
    spdlog::warn("xmpp: component {} not attached to {}:{}: {}; retrying with backoff", options_.domain,
                 options_.host, options_.port, reason);
  }
  if (reconnector_) reconnector_->connection_lost();
}

void Component::stop() {
  stopped_ = true;
  if (reconnector_) reconnector_->stop();
  flush();
  if (auto link = link_) {
    link->detach();
    link->send("</stream:stream>");
    link->close_after_flush("shutdown");
  }
  attached_ = false;
}

}  // namespace parley::adapters::xmpp
