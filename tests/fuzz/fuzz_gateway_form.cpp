// Fuzzes the gateway's ad-hoc command forms (adapters/gateway/forms.hpp): submitted fields
// built from the input are validated; whatever is accepted must never carry CR, LF or NUL
// into a nick, realname, SASL credential or channel, and must read back from the rows as
// the same settings (settings_from_rows refuses nothing the form accepted).
// clang-format off (run_libfuzzer.sh reads these lines as they are)
// fuzz-sources: adapters/gateway/forms.cpp adapters/gateway/settings.cpp protocols/xmpp/writer.cpp
// fuzz-sources: protocols/irc/message.cpp protocols/xmpp/stanza.cpp protocols/xmpp/stanza_buffer.cpp protocols/xmpp/stream_error.cpp
// fuzz-libs: -lpugixml
// clang-format on
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/gateway/forms.hpp"

using namespace parley::adapters::gateway;

namespace {
constexpr std::string_view kVars[] = {"nick",
                                      "realname",
                                      "sasl_user",
                                      "sasl_password",
                                      "port",
                                      "tls",
                                      "verify",
                                      "encoding",
                                      "throttle_burst",
                                      "throttle_interval_ms",
                                      "persistent_channels",
                                      "persistent",
                                      "FORM_TYPE",
                                      "bogus"};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Input: records "<var index byte><value>\x1f"; a 0x1e splits values of one field.
  std::vector<FormFieldIn> fields;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty() && fields.size() < kMaxFormFields) {
    const auto var = kVars[static_cast<unsigned char>(in[0]) % std::size(kVars)];
    in.remove_prefix(1);
    auto end = in.find('\x1f');
    std::string_view rec = in.substr(0, end);
    in = end == std::string_view::npos ? std::string_view{} : in.substr(end + 1);
    FormFieldIn f{std::string(var), {}};
    while (f.values.size() < kMaxFieldValues) {
      auto sep = rec.find('\x1e');
      f.values.emplace_back(rec.substr(0, sep));
      if (sep == std::string_view::npos) break;
      rec.remove_prefix(sep + 1);
    }
    fields.push_back(std::move(f));
  }
  SettingsChange ch, g, c;
  if (submit_server(fields, {}, "gw", "a@x", "net", "net", {.max_channels = 8}, ch)) ch = {};
  if (!submit_gateway(fields, "gw", "a@x", g)) ch.put.insert(ch.put.end(), g.put.begin(), g.put.end());
  if (!submit_channel(fields, "gw", "a@x", "net", "#c", "net", c))
    ch.put.insert(ch.put.end(), c.put.begin(), c.put.end());
  for (const auto& r : ch.put) {
    if (r.name == "nick" || r.name == "realname" || r.name == "sasl_user" || r.name == "sasl_password" ||
        r.name == "persistent")
      if (r.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) std::abort();
    if (r.scope.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) std::abort();
  }
  // What the form accepted reads back.
  UserSettings s = settings_from_rows(ch.put);
  for (const auto& r : ch.put) {
    if (r.scope == "net" && r.name == "nick" && s.networks["net"].nick != r.value) std::abort();
    if (r.scope == "net" && r.name == "realname" && s.networks["net"].realname != r.value) std::abort();
  }
  (void)render_form(server_form(s, "net"));
  return 0;
}
