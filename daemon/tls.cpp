#include "daemon/tls.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace parley::daemon {

namespace {

using core::Condition;
using core::make_error;

struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct BnFree { void operator()(BIGNUM* p) const { BN_free(p); } };
struct FileClose { void operator()(std::FILE* f) const { std::fclose(f); } };
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

core::Error ssl_error(const std::string& what) {
  std::string text = what;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    text += std::string(": ") + buf;
  }
  return make_error(Condition::internal_server_error, text);
}

bool add_ext(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool is_ip(const std::string& s) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// Writes via a temporary file created with `mode`, then renames, so a crash never leaves
// a half-written key behind under the final name.
template <class Write>
core::Status write_pem(const std::filesystem::path& path, mode_t mode, Write write) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return make_error(Condition::internal_server_error, "cannot create " + tmp.string());
  ::fchmod(fd, mode);  // umask may have narrowed or (for 0644) not; be exact
  std::unique_ptr<std::FILE, FileClose> f(::fdopen(fd, "w"));
  if (!f) {
    ::close(fd);
    return make_error(Condition::internal_server_error, "cannot open " + tmp.string());
  }
  if (!write(f.get())) return ssl_error("cannot write " + tmp.string());
  if (std::fflush(f.get()) != 0 || ::fsync(fd) != 0)
    return make_error(Condition::internal_server_error, "cannot write " + tmp.string());
  f.reset();
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error(Condition::internal_server_error, "cannot rename to " + path.string() + ": " + ec.message());
  return {};
}

}  // namespace

core::Result<TlsFiles> ensure_self_signed(const std::string& dir, const std::string& domain) {
  namespace fs = std::filesystem;
  TlsFiles files{(fs::path(dir) / "cert.pem").string(), (fs::path(dir) / "key.pem").string(), false};
  if (fs::exists(files.cert) && fs::exists(files.key)) return files;

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(Condition::internal_server_error, "cannot create " + dir + ": " + ec.message());

  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return ssl_error("cannot generate a P-256 key");

  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return ssl_error("cannot create a certificate");
  // RFC 5280 §4.1.2.2: a positive serial of up to 20 octets, unique per issuer: 64 random bits.
  std::unique_ptr<BIGNUM, BnFree> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    return ssl_error("cannot set the serial number");
  constexpr long kTenYears = 10L * 365 * 24 * 3600;
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), kTenYears))
    return ssl_error("cannot set the validity");
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return ssl_error("cannot set the public key");

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(domain.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1)
    return ssl_error("cannot set the subject");
  // RFC 6125 §6.4.4: clients match the SAN, not the CN, when a SAN is present.
  const std::string san = (is_ip(domain) ? "IP:" : "DNS:") + domain;
  if (!add_ext(cert.get(), NID_subject_alt_name, san) || !add_ext(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(cert.get(), NID_key_usage, "critical,digitalSignature,keyAgreement") ||
      !add_ext(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !add_ext(cert.get(), NID_subject_key_identifier, "hash"))
    return ssl_error("cannot add the certificate extensions");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return ssl_error("cannot sign the certificate");

  core::Status s = write_pem(files.key, 0600, [&](std::FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  if (!s) return s.error();
  s = write_pem(files.cert, 0644, [&](std::FILE* f) { return PEM_write_X509(f, cert.get()) == 1; });
  if (!s) return s.error();
  files.generated = true;
  return files;
}

core::Result<TlsFiles> server_tls_files(const config::Config& c) {
  if (!c.xmpp.c2s.tls.cert.empty() && !c.xmpp.c2s.tls.key.empty())
    return TlsFiles{c.xmpp.c2s.tls.cert, c.xmpp.c2s.tls.key, false};
  return ensure_self_signed((std::filesystem::path(c.server.data_dir) / "tls").string(), c.server.domain);
}

core::Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls(const TlsFiles& files) {
  return adapters::make_server_tls(files.cert, files.key);
}

}  // namespace parley::daemon
