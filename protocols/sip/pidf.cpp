#include "protocols/sip/pidf.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <pugixml.hpp>

#include "protocols/common/xml_string_writer.hpp"
#include "protocols/sip/text.hpp"

namespace parley::protocols::sip {

namespace {

constexpr const char* kPidfNs = "urn:ietf:params:xml:ns:pidf";
constexpr const char* kRpidNs = "urn:ietf:params:xml:ns:pidf:rpid";
constexpr const char* kDmNs = "urn:ietf:params:xml:ns:pidf:data-model";
constexpr const char* kWinfoNs = "urn:ietf:params:xml:ns:watcherinfo";
constexpr const char* kComposingNs = "urn:ietf:params:xml:ns:im-iscomposing";
constexpr std::size_t kMaxAttribute = 256;

std::string save_raw(const pugi::xml_document& d) {
  std::string out;
  out.reserve(512);
  XmlStringWriter w(out);
  d.save(w, "", pugi::format_raw, pugi::encoding_utf8);
  return out;
}

std::string_view local_name(const pugi::xml_node& n) {
  std::string_view s = n.name();
  auto c = s.find(':');
  return c == std::string_view::npos ? s : s.substr(c + 1);
}

// The namespace URI of an element: its prefix's xmlns declaration, nearest first.
std::string_view ns_of(const pugi::xml_node& n) {
  std::string_view name = n.name();
  auto c = name.find(':');
  std::string attr = c == std::string_view::npos ? "xmlns" : "xmlns:" + std::string(name.substr(0, c));
  for (auto x = n; x && x.type() == pugi::node_element; x = x.parent())
    if (auto a = x.attribute(attr.c_str())) return a.value();
  return {};
}

bool is(const pugi::xml_node& n, const char* ns, std::string_view local) {
  return n.type() == pugi::node_element && local_name(n) == local && ns_of(n) == ns;
}

std::string cut_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

// Foreign text into the core: UTF-8, no controls but TAB/LF, bounded.
std::string clean(std::string_view v, std::size_t max) {
  auto c = clean_text_body(v);
  return c ? cut_utf8(std::move(*c), max) : std::string();
}

std::unique_ptr<pugi::xml_document> load(std::string_view xml) {
  if (xml.empty() || xml.size() > kMaxPresenceDocument) return nullptr;
  auto doc = std::make_unique<pugi::xml_document>();
  // No DOCTYPE processing (pugixml never expands external entities; we refuse the
  // declaration outright), whitespace-only text dropped.
  auto r = doc->load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_doctype,
                            pugi::encoding_utf8);
  if (!r) return nullptr;
  for (auto n : doc->children())
    if (n.type() == pugi::node_doctype) return nullptr;
  return doc;
}

// RFC 4480 §3.2 activities folded onto <show/>: the most "unwilling" one wins.
PidfShow show_of_activity(std::string_view a) {
  if (a == "busy" || a == "on-the-phone" || a == "meeting" || a == "performance" || a == "presentation" ||
      a == "worship" || a == "in-transit" || a == "steering" || a == "playing")
    return PidfShow::dnd;
  if (a == "vacation" || a == "sleeping" || a == "holiday" || a == "travel") return PidfShow::xa;
  if (a == "away" || a == "appointment" || a == "meal" || a == "breakfast" || a == "dinner" || a == "lunch" ||
      a == "shopping" || a == "looking-for-work" || a == "spectator")
    return PidfShow::away;
  return PidfShow::available;  // "unknown", "other", "working", extensions
}

int rank(PidfShow s) {
  switch (s) {
    case PidfShow::dnd:
      return 4;
    case PidfShow::xa:
      return 3;
    case PidfShow::away:
      return 2;
    case PidfShow::available:
      return 1;
    case PidfShow::chat:
      return 0;
  }
  return 0;
}

void read_activities(const pugi::xml_node& parent, PidfDocument& doc, bool& seen) {
  for (auto a : parent.children()) {
    if (!is(a, kRpidNs, "activities")) continue;
    for (auto act : a.children()) {
      if (act.type() != pugi::node_element || ns_of(act) != kRpidNs) continue;
      auto s = show_of_activity(local_name(act));
      if (!seen || rank(s) > rank(doc.show)) doc.show = s;
      seen = true;
    }
  }
}

}  // namespace

std::string_view to_string(PidfShow s) {
  switch (s) {
    case PidfShow::available:
      return "available";
    case PidfShow::away:
      return "away";
    case PidfShow::xa:
      return "xa";
    case PidfShow::dnd:
      return "dnd";
    case PidfShow::chat:
      return "chat";
  }
  return "available";
}

std::optional<PidfDocument> parse_pidf(std::string_view xml) {
  auto d = load(xml);
  if (!d) return std::nullopt;
  auto root = d->document_element();
  if (!is(root, kPidfNs, "presence")) return std::nullopt;  // RFC 3863 §4.1.1
  PidfDocument doc;
  doc.entity = clean(root.attribute("entity").value(), kMaxAttribute);
  if (doc.entity.empty()) return std::nullopt;  // §4.1.2: entity is mandatory
  bool seen_activity = false;
  std::string first_tuple_note;
  for (auto n : root.children()) {
    if (is(n, kPidfNs, "tuple")) {
      PidfTuple t;
      t.id = clean(n.attribute("id").value(), kMaxAttribute);
      if (t.id.empty()) return std::nullopt;  // §4.1.3: id is mandatory
      bool has_status = false;
      for (auto c : n.children()) {
        if (is(c, kPidfNs, "status")) {
          has_status = true;
          for (auto b : c.children())
            if (is(b, kPidfNs, "basic")) {
              std::string_view v = b.text().get();
              if (v == "open")
                t.open = true;
              else if (v == "closed")
                t.open = false;
              else
                return std::nullopt;  // §4.1.4: only open or closed
            }
          read_activities(c, doc, seen_activity);
        } else if (is(c, kPidfNs, "contact")) {
          t.contact = clean(c.text().get(), kMaxAttribute);
          if (auto p = c.attribute("priority")) {
            char* end = nullptr;
            double v = std::strtod(p.value(), &end);
            if (end == p.value() || *end || !(v >= 0.0 && v <= 1.0)) return std::nullopt;  // §4.1.5
            t.priority = v;
          }
        } else if (is(c, kPidfNs, "note") && t.note.empty()) {
          t.note = clean(c.text().get(), kMaxPidfNote);
        }
      }
      if (!has_status) return std::nullopt;  // §4.1.3: status is mandatory
      if (first_tuple_note.empty()) first_tuple_note = t.note;
      if (doc.tuples.size() < kMaxPidfTuples) doc.tuples.push_back(std::move(t));
    } else if (is(n, kDmNs, "person")) {
      read_activities(n, doc, seen_activity);
      for (auto c : n.children())
        if (is(c, kDmNs, "note") && doc.note.empty()) doc.note = clean(c.text().get(), kMaxPidfNote);
    } else if (is(n, kPidfNs, "note") && doc.note.empty()) {
      doc.note = clean(n.text().get(), kMaxPidfNote);
    }
  }
  if (doc.note.empty()) doc.note = first_tuple_note;
  return doc;
}

std::string render_pidf(const PidfDocument& in) {
  pugi::xml_document d;
  auto decl = d.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto root = d.append_child("presence");
  root.append_attribute("xmlns") = kPidfNs;
  root.append_attribute("xmlns:dm") = kDmNs;
  root.append_attribute("xmlns:rpid") = kRpidNs;
  root.append_attribute("entity") = clean(in.entity, kMaxAttribute).c_str();
  for (const auto& t : in.tuples) {
    auto tn = root.append_child("tuple");
    tn.append_attribute("id") = clean(t.id, kMaxAttribute).c_str();
    auto st = tn.append_child("status");
    st.append_child("basic").text() = t.open ? "open" : "closed";
    if (!t.contact.empty() || t.priority) {
      auto c = tn.append_child("contact");
      if (t.priority) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%.3f", *t.priority);
        c.append_attribute("priority") = buf;
      }
      c.text() = clean(t.contact, kMaxAttribute).c_str();
    }
    if (auto note = clean(t.note, kMaxPidfNote); !note.empty()) tn.append_child("note").text() = note.c_str();
  }
  auto person = root.append_child("dm:person");
  person.append_attribute("id") = "p";
  if (in.show != PidfShow::available && in.show != PidfShow::chat) {
    auto acts = person.append_child("rpid:activities");
    const char* a = in.show == PidfShow::dnd  ? "rpid:busy"
                    : in.show == PidfShow::xa ? "rpid:vacation"
                                              : "rpid:away";
    acts.append_child(a);
  }
  if (auto note = clean(in.note, kMaxPidfNote); !note.empty())
    person.append_child("dm:note").text() = note.c_str();
  return save_raw(d);
}

std::string render_watcherinfo(std::string_view resource, std::uint32_t version, bool full,
                               const std::vector<WatcherEntry>& watchers) {
  pugi::xml_document d;
  auto decl = d.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto root = d.append_child("watcherinfo");  // RFC 3858 §5
  root.append_attribute("xmlns") = kWinfoNs;
  root.append_attribute("version") = version;
  root.append_attribute("state") = full ? "full" : "partial";
  auto list = root.append_child("watcher-list");
  list.append_attribute("resource") = clean(resource, kMaxAttribute).c_str();
  list.append_attribute("package") = "presence";
  for (const auto& w : watchers) {
    auto n = list.append_child("watcher");
    n.append_attribute("id") = clean(w.id, kMaxAttribute).c_str();
    n.append_attribute("status") = w.status.c_str();
    n.append_attribute("event") = w.event.c_str();
    n.text() = clean(w.uri, kMaxAttribute).c_str();
  }
  return save_raw(d);
}

std::optional<IsComposing> parse_is_composing(std::string_view xml) {
  auto d = load(xml);
  if (!d) return std::nullopt;
  auto root = d->document_element();
  if (!is(root, kComposingNs, "isComposing")) return std::nullopt;
  IsComposing c;
  bool has_state = false;
  for (auto n : root.children()) {
    if (is(n, kComposingNs, "state")) {
      std::string_view v = n.text().get();
      if (v == "active")
        c.active = true;
      else if (v == "idle")
        c.active = false;
      else
        return std::nullopt;  // RFC 3994 §7: active or idle
      has_state = true;
    } else if (is(n, kComposingNs, "refresh")) {
      c.refresh = std::min<std::uint32_t>(n.text().as_uint(), 86'400);
    } else if (is(n, kComposingNs, "contenttype")) {
      c.content_type = clean(n.text().get(), kMaxAttribute);
    }
  }
  if (!has_state) return std::nullopt;
  return c;
}

std::string render_is_composing(const IsComposing& c) {
  pugi::xml_document d;
  auto decl = d.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto root = d.append_child("isComposing");
  root.append_attribute("xmlns") = kComposingNs;
  root.append_child("state").text() = c.active ? "active" : "idle";
  if (!c.content_type.empty())
    root.append_child("contenttype").text() = clean(c.content_type, kMaxAttribute).c_str();
  if (c.active && c.refresh) root.append_child("refresh").text() = c.refresh;
  return save_raw(d);
}

}  // namespace parley::protocols::sip
