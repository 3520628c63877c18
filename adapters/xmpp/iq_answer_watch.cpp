#include "adapters/xmpp/iq_answer_watch.hpp"

#include "protocols/xmpp/writer.hpp"

namespace parley::adapters::xmpp {

namespace {
std::string attribute(std::string_view name, std::string_view value) {
  std::string out = " ";
  out.append(name).append("='");
  protocols::xmpp::escape_attr(out, value);
  out += '\'';
  return out;
}
}  // namespace

void IqAnswerWatch::watch(std::string_view from, std::string_view id) {
  watching_ = true;
  answered_ = false;
  to_attr_ = attribute("to", from);
  id_attr_ = attribute("id", id);
}

// Only the start tag counts: escape_attr writes '>' as "&gt;", so the first '>' ends it, and
// a value holds no quote, so " id='...'" is that attribute and not the inside of another.
void IqAnswerWatch::sent(std::string_view xml) {
  if (!watching_ || answered_ || !xml.starts_with("<iq ")) return;
  const std::string_view tag = xml.substr(0, xml.find('>'));
  const bool response = tag.find(" type='result'") != std::string_view::npos ||
                        tag.find(" type='error'") != std::string_view::npos;
  const bool no_id = id_attr_ == " id=''";  // render_error leaves an empty id out
  const bool id_matches =
      tag.find(id_attr_) != std::string_view::npos || (no_id && tag.find(" id='") == std::string_view::npos);
  answered_ = response && id_matches && tag.find(to_attr_) != std::string_view::npos;
}

}  // namespace parley::adapters::xmpp
