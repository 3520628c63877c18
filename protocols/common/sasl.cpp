#include "protocols/common/sasl.hpp"

#include <gsasl.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace parley::protocols::sasl {

namespace {

int callback(Gsasl*, Gsasl_session* sctx, Gsasl_property prop);

// One library context for the process: gsasl_server_start only reads it, and every
// session-specific value comes from the session hook.
Gsasl* context() {
  static Gsasl* ctx = [] {
    Gsasl* c = nullptr;
    if (gsasl_init(&c) != GSASL_OK) return static_cast<Gsasl*>(nullptr);
    gsasl_callback_set(c, callback);
    return c;
  }();
  return ctx;
}

}  // namespace

struct ScramServer::Impl {
  ScramSecrets secrets;
  std::string salt_b64, iter, stored_b64, server_b64;
  Gsasl_session* session = nullptr;
  bool started = false;
};

namespace {
int callback(Gsasl*, Gsasl_session* sctx, Gsasl_property prop) {
  auto* impl = static_cast<ScramServer::Impl*>(gsasl_session_hook_get(sctx));
  if (!impl) return GSASL_NO_CALLBACK;
  switch (prop) {
    case GSASL_SCRAM_SALT: return gsasl_property_set(sctx, prop, impl->salt_b64.c_str());
    case GSASL_SCRAM_ITER: return gsasl_property_set(sctx, prop, impl->iter.c_str());
    case GSASL_SCRAM_STOREDKEY: return gsasl_property_set(sctx, prop, impl->stored_b64.c_str());
    case GSASL_SCRAM_SERVERKEY: return gsasl_property_set(sctx, prop, impl->server_b64.c_str());
    default: return GSASL_NO_CALLBACK;
  }
}
}  // namespace

std::optional<std::string> base64_decode(std::string_view b64) {
  if (b64.empty() || b64 == "=") return std::string();
  char* out = nullptr;
  size_t len = 0;
  if (gsasl_base64_from(b64.data(), b64.size(), &out, &len) != GSASL_OK) return std::nullopt;
  std::string s(out, len);
  gsasl_free(out);
  return s;
}

std::string base64_encode(std::string_view raw) {
  if (raw.empty()) return {};
  char* out = nullptr;
  size_t len = 0;
  if (gsasl_base64_to(raw.data(), raw.size(), &out, &len) != GSASL_OK) return {};
  std::string s(out, len);
  gsasl_free(out);
  return s;
}

std::optional<std::string> scram_username(std::string_view cf) {
  // gs2-header: ("n" | "y") "," [authzid] ","  — "p=" (channel binding) is not offered.
  if (cf.size() < 3 || (cf[0] != 'n' && cf[0] != 'y') || cf[1] != ',') return std::nullopt;
  auto second = cf.find(',', 2);
  if (second == std::string_view::npos) return std::nullopt;
  auto bare = cf.substr(second + 1);
  if (bare.substr(0, 2) != "n=") return std::nullopt;
  auto end = bare.find(',');
  if (end == std::string_view::npos) return std::nullopt;
  auto raw = bare.substr(2, end - 2);
  std::string user;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '=') {
      if (raw.substr(i, 3) == "=2C") user += ',';
      else if (raw.substr(i, 3) == "=3D") user += '=';
      else return std::nullopt;
      i += 2;
    } else {
      user += raw[i];
    }
  }
  if (user.empty()) return std::nullopt;
  return user;
}

std::optional<std::string> scram_authzid(std::string_view cf) {
  if (cf.size() < 3 || (cf[0] != 'n' && cf[0] != 'y') || cf[1] != ',') return std::nullopt;
  auto second = cf.find(',', 2);
  if (second == std::string_view::npos) return std::nullopt;
  auto field = cf.substr(2, second - 2);
  if (field.empty()) return std::string();
  if (field.substr(0, 2) != "a=") return std::nullopt;
  field.remove_prefix(2);
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '=') {
      out += field[i];
      continue;
    }
    if (field.substr(i, 3) == "=2C") out += ',';
    else if (field.substr(i, 3) == "=3D") out += '=';
    else return std::nullopt;
    i += 2;
  }
  return out;
}

std::optional<PlainCredentials> parse_plain(std::string_view m) {
  auto a = m.find('\0');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = m.find('\0', a + 1);
  if (b == std::string_view::npos || m.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
  PlainCredentials c{std::string(m.substr(0, a)), std::string(m.substr(a + 1, b - a - 1)),
                     std::string(m.substr(b + 1))};
  if (c.authcid.empty() || c.password.empty()) return std::nullopt;
  return c;
}

std::string plain_message(std::string_view authzid, std::string_view authcid, std::string_view password) {
  std::string m;
  m.reserve(authzid.size() + authcid.size() + password.size() + 2);
  m.append(authzid).append(1, '\0').append(authcid).append(1, '\0').append(password);
  return m;
}

ScramServer::ScramServer(std::string_view mechanism, ScramSecrets secrets) : impl_(std::make_unique<Impl>()) {
  impl_->secrets = std::move(secrets);
  impl_->salt_b64 = base64_encode(impl_->secrets.salt);
  impl_->iter = std::to_string(impl_->secrets.iterations);
  // gsasl.h documents these as hex, but libgsasl 2.2 reads and writes them base64-encoded
  // (checked against its own client: see tests/unit/protocols/sasl_test.cpp).
  impl_->stored_b64 = base64_encode(impl_->secrets.stored_key);
  impl_->server_b64 = base64_encode(impl_->secrets.server_key);
  Gsasl* ctx = context();
  std::string mech(mechanism);
  if (ctx && gsasl_server_start(ctx, mech.c_str(), &impl_->session) == GSASL_OK) {
    gsasl_session_hook_set(impl_->session, impl_.get());
    impl_->started = true;
  }
}

ScramServer::~ScramServer() {
  if (impl_->session) gsasl_finish(impl_->session);
}

ScramServer::Step ScramServer::step(std::string_view client_data) {
  if (!impl_->started) return {Result::failure, {}};
  char* out = nullptr;
  size_t out_len = 0;
  int rc = gsasl_step(impl_->session, client_data.data(), client_data.size(), &out, &out_len);
  Step s;
  if (out) {
    s.data.assign(out, out_len);
    gsasl_free(out);
  }
  if (rc == GSASL_NEEDS_MORE) s.result = Result::challenge;
  else if (rc == GSASL_OK) s.result = Result::success;
  else s.result = Result::failure;
  return s;
}

ScramClient::ScramClient(std::string_view mechanism, std::string_view authcid, std::string_view password,
                         std::string_view authzid) {
  Gsasl* ctx = context();
  std::string mech(mechanism);
  Gsasl_session* s = nullptr;
  if (!ctx || gsasl_client_start(ctx, mech.c_str(), &s) != GSASL_OK) return;
  session_ = s;
  // The properties are the session's own: the shared callback answers nothing for a
  // session without a hook.
  gsasl_property_set(s, GSASL_AUTHID, std::string(authcid).c_str());
  gsasl_property_set(s, GSASL_PASSWORD, std::string(password).c_str());
  if (!authzid.empty()) gsasl_property_set(s, GSASL_AUTHZID, std::string(authzid).c_str());
  started_ = true;
}

ScramClient::~ScramClient() {
  if (session_) gsasl_finish(static_cast<Gsasl_session*>(session_));
}

ScramClient::Step ScramClient::step(std::string_view server_data) {
  if (!started_) return {Result::failure, {}};
  char* out = nullptr;
  size_t out_len = 0;
  int rc = gsasl_step(static_cast<Gsasl_session*>(session_), server_data.data(), server_data.size(), &out,
                      &out_len);
  Step s;
  if (out) {
    s.data.assign(out, out_len);
    gsasl_free(out);
  }
  if (rc == GSASL_NEEDS_MORE) s.result = Result::challenge;
  else if (rc == GSASL_OK) s.result = Result::success;
  else s.result = Result::failure;
  if (s.result != Result::challenge) started_ = false;  // the exchange is over either way
  return s;
}

}  // namespace parley::protocols::sasl
