#pragma once
// The XEP-0004 data forms of the gateway's XEP-0050 configure commands, and what a
// submitted one changes in the store. Pure: a form is built from the user's settings, a
// submission is validated whole (one bad field refuses it all) into rows to put and delete.
//
// Fields (Biboumi's names where it has one, our own otherwise):
//   gateway  (gw):            nick, realname
//   server   (net@gw):        nick, realname, sasl_user, sasl_password, port, tls, verify,
//                             encoding, throttle_burst, throttle_interval_ms, persistent_channels
//   channel  (#chan%net@gw):  persistent
// An empty value unsets the setting (the network's configuration applies again); an empty
// sasl_password keeps the stored one (it is never sent back in a form).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/gateway/port.hpp"
#include "adapters/gateway/settings.hpp"
#include "core/store/store.hpp"

namespace parley::adapters::gateway {

struct FormField {
  std::string var, type, label;
  std::vector<std::string> values;
  std::vector<std::string> options;  // list-single choices
};
struct Form {
  std::string type = "form";  // form | result
  std::string title, instructions;
  std::vector<FormField> fields;
};

// Renders <x xmlns='jabber:x:data'/> (XEP-0004 §3.1) with the protocols/xmpp writer.
std::string render_form(const Form& f);

Form gateway_form(const UserSettings& s);
Form server_form(const UserSettings& s, std::string_view network);
Form channel_form(const UserSettings& s, std::string_view network, std::string_view channel);

// Rows a submission writes and removes, for one owner of one gateway.
struct SettingsChange {
  std::vector<core::GatewaySetting> put, del;
};
struct FormLimits {
  std::size_t max_channels = 50;  // persistent channels one network may have
};
// Each returns the error text (bad-request) or nullopt with `out` filled. `label` is the
// address's server part (a network's name or host): persistent channels keep it for the
// room JIDs they are rejoined under.
std::optional<std::string> submit_gateway(const std::vector<FormFieldIn>& fields, const std::string& gateway,
                                          const std::string& owner, SettingsChange& out);
std::optional<std::string> submit_server(const std::vector<FormFieldIn>& fields, const UserSettings& current,
                                         const std::string& gateway, const std::string& owner,
                                         std::string_view network, std::string_view label,
                                         const FormLimits& limits, SettingsChange& out);
std::optional<std::string> submit_channel(const std::vector<FormFieldIn>& fields, const std::string& gateway,
                                          const std::string& owner, std::string_view network,
                                          std::string_view channel, std::string_view label,
                                          SettingsChange& out);

}  // namespace parley::adapters::gateway
