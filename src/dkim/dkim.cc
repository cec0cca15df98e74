#include "dkim/dkim.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "base/base64.h"
#include "base/strings.h"

namespace sesame::dkim {
namespace {

Error Bad(const std::string& m) { return Error::Permanent("dkim", m); }

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

std::string Sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return std::string(reinterpret_cast<char*>(md), sizeof md);
}

// Folds "tag=value;" items into lines of at most ~76 characters.
std::string Fold(const std::vector<std::string>& tags) {
  std::string out = "DKIM-Signature:";
  size_t line = out.size();
  for (size_t i = 0; i < tags.size(); ++i) {
    std::string t = tags[i] + (i + 1 < tags.size() ? ";" : "");
    if (line + 1 + t.size() > 76 && line > 1) {
      out += "\r\n";
      line = 0;
    }
    out += " " + t;
    line += 1 + t.size();
  }
  return out;
}

}  // namespace

void PrivateKey::Deleter::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!k) return Bad("not a PEM private key");
  PrivateKey out;
  out.key_.reset(k, Deleter());
  int id = EVP_PKEY_get_base_id(k);
  if (id == EVP_PKEY_ED25519) {
    out.alg_ = Algorithm::kEd25519Sha256;
  } else if (id == EVP_PKEY_RSA) {
    out.alg_ = Algorithm::kRsaSha256;
  } else {
    return Bad("DKIM keys are RSA or Ed25519");
  }
  return out;
}

Result<PrivateKey> PrivateKey::FromDer(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  if (!k) return Bad("not a DER private key");
  PrivateKey out;
  out.key_.reset(k, Deleter());
  int id = EVP_PKEY_get_base_id(k);
  if (id == EVP_PKEY_ED25519) {
    out.alg_ = Algorithm::kEd25519Sha256;
  } else if (id == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(k) < 1024)
      return Bad("RSA keys must have 1024 or 2048 bits");
    out.alg_ = Algorithm::kRsaSha256;
  } else {
    return Bad("DKIM keys are RSA or Ed25519");
  }
  return out;
}

Result<PrivateKey> PrivateKey::Generate(Algorithm alg, int bits) {
  EVP_PKEY* k = alg == Algorithm::kEd25519Sha256
                    ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA",
                                        static_cast<size_t>(bits));
  if (!k) return Bad("key generation failed");
  PrivateKey out;
  out.key_.reset(k, Deleter());
  out.alg_ = alg;
  return out;
}

std::string PrivateKey::ToPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr,
                           nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

std::string PrivateKey::DnsRecord() const {
  if (alg_ == Algorithm::kEd25519Sha256) {
    unsigned char raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(key_.get(), raw, &len);
    return "v=DKIM1; k=ed25519; p=" +
           Base64Encode(std::string_view(reinterpret_cast<char*>(raw), len));
  }
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key_.get(), &der);
  std::string p =
      Base64Encode(std::string_view(reinterpret_cast<char*>(der), len));
  OPENSSL_free(der);
  return "v=DKIM1; k=rsa; p=" + p;
}

std::string RelaxedBody(std::string_view body) {
  // Per line: drop trailing WSP, reduce WSP runs to one space; then drop
  // trailing empty lines; a non-empty body ends with exactly one CRLF.
  // One pass into one buffer: this runs for every signed message, on the
  // signing pool, and a per-line string cost a tenth of an RSA signature.
  std::string out;
  out.reserve(body.size() + 2);
  size_t empty_lines = 0;  // held back: dropped if only empty lines follow
  const char* p = body.data();
  const char* end = p + body.size();
  while (p < end) {
    const char* eol = p;
    for (;;) {  // the next CRLF (a bare CR or LF is line content)
      eol = static_cast<const char*>(std::memchr(eol, '\r', end - eol));
      if (!eol) {
        eol = end;
        break;
      }
      if (eol + 1 < end && eol[1] == '\n') break;
      ++eol;
    }
    bool content = false, space = false;
    for (const char* q = p; q < eol;) {
      if (IsWsp(*q)) {
        space = true;
        ++q;
        continue;
      }
      const char* run = q;
      while (q < eol && !IsWsp(*q)) ++q;
      if (!content) {
        for (; empty_lines > 0; --empty_lines) out += "\r\n";
        content = true;
      }
      if (space) out += ' ';  // a WSP run is one SP; trailing WSP is dropped
      space = false;
      out.append(run, q - run);
    }
    if (content) {
      out += "\r\n";
    } else {
      ++empty_lines;
    }
    if (eol == end) break;
    p = eol + 2;
  }
  return out;
}

std::string RelaxedHeader(std::string_view name, std::string_view value) {
  std::string v;
  bool space = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;  // unfold
    if (IsWsp(c)) {
      space = true;
      continue;
    }
    if (space && !v.empty()) v += ' ';
    space = false;
    v += c;
  }
  return AsciiLowerCopy(TrimCopy(name)) + ":" + v + "\r\n";
}

Result<ParsedMessage> SplitMessage(std::string_view message) {
  ParsedMessage m;
  size_t pos = 0;
  while (pos < message.size()) {
    size_t eol = message.find("\r\n", pos);
    if (eol == std::string_view::npos)
      return Bad("header block without CRLF line ends");
    if (eol == pos) {  // empty line: the body follows
      m.body = message.substr(eol + 2);
      return m;
    }
    std::string_view line = message.substr(pos, eol - pos);
    if (IsWsp(line[0])) {
      if (m.headers.empty()) return Bad("continuation before the first header");
      m.headers.back().second += "\r\n" + std::string(line);
    } else {
      size_t colon = line.find(':');
      if (colon == std::string_view::npos)
        return Bad("header line without a colon");
      m.headers.emplace_back(std::string(line.substr(0, colon)),
                             std::string(line.substr(colon + 1)));
    }
    pos = eol + 2;
  }
  m.body = std::string_view();
  return m;
}

std::string SignedHeaderBlock(const ParsedMessage& m,
                              const std::vector<std::string>& names) {
  std::map<std::string, int>
      used;  // instances consumed from the bottom, per name
  std::string out;
  for (const auto& raw : names) {
    std::string name = AsciiLowerCopy(TrimCopy(raw));
    int skip = used[name]++;
    for (auto it = m.headers.rbegin(); it != m.headers.rend(); ++it) {
      if (AsciiLowerCopy(TrimCopy(it->first)) != name) continue;
      if (skip-- > 0) continue;
      out += RelaxedHeader(it->first, it->second);
      break;
    }
  }
  return out;
}

Result<std::string> ComputeSignature(const ParsedMessage& m,
                                     const std::vector<std::string>& names,
                                     std::string_view dkim_header_without_b,
                                     const PrivateKey& key) {
  size_t colon = dkim_header_without_b.find(':');
  if (colon == std::string_view::npos)
    return Bad("malformed DKIM-Signature template");
  std::string data = SignedHeaderBlock(m, names);
  std::string self = RelaxedHeader(dkim_header_without_b.substr(0, colon),
                                   dkim_header_without_b.substr(colon + 1));
  data += self.substr(
      0, self.size() - 2);  // the signature field itself, without its CRLF
  std::string digest_input =
      key.algorithm() == Algorithm::kEd25519Sha256 ? Sha256(data) : data;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const EVP_MD* md =
      key.algorithm() == Algorithm::kEd25519Sha256 ? nullptr : EVP_sha256();
  size_t len = 0;
  std::string sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, md, nullptr, key.get()) == 1 &&
            EVP_DigestSign(
                ctx, nullptr, &len,
                reinterpret_cast<const unsigned char*>(digest_input.data()),
                digest_input.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(
             ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
             reinterpret_cast<const unsigned char*>(digest_input.data()),
             digest_input.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return Bad("signing failed");
  return Base64Encode(sig);
}

std::vector<std::string> DefaultHeaders() {
  return {"From",
          "To",
          "Cc",
          "Subject",
          "Date",
          "Message-ID",
          "Reply-To",
          "MIME-Version",
          "Content-Type",
          "Content-Transfer-Encoding",
          "List-Unsubscribe",
          "List-Unsubscribe-Post",
          "Feedback-ID"};
}

Result<std::string> Sign(std::string_view message, const SignOptions& o,
                         const PrivateKey& key) {
  auto m = SplitMessage(message);
  if (!m.ok()) return m.error();
  // Sign the recommended headers that are present, and From once more.
  std::vector<std::string> wanted =
      o.headers.empty() ? DefaultHeaders() : o.headers;
  std::vector<std::string> names;
  for (const auto& w : wanted) {
    std::string lw = AsciiLowerCopy(w);
    for (const auto& h : m->headers) {
      if (AsciiLowerCopy(TrimCopy(h.first)) == lw) {
        names.push_back(lw);
        break;
      }
    }
  }
  names.push_back("from");
  std::string h;
  for (size_t i = 0; i < names.size(); ++i) h += (i ? ":" : "") + names[i];
  std::string bh = Base64Encode(Sha256(RelaxedBody(m->body)));
  std::vector<std::string> tags = {
      "v=1",
      std::string("a=") + (key.algorithm() == Algorithm::kEd25519Sha256
                               ? "ed25519-sha256"
                               : "rsa-sha256"),
      "c=relaxed/relaxed",
      "d=" + o.domain,
      "s=" + o.selector,
      "t=" + std::to_string(o.timestamp),
      "h=" + h,
      "bh=" + bh,
      "b="};
  std::string field = Fold(tags);
  auto sig = ComputeSignature(*m, names, field, key);
  if (!sig.ok()) return sig.error();
  // Fold the signature value in 72-character pieces.
  std::string b;
  for (size_t i = 0; i < sig->size(); i += 72)
    b += (i ? "\r\n " : "") + sig->substr(i, 72);
  return field +
         (field.size() - field.rfind('\n') + b.size() > 76 ? "\r\n " : "") + b +
         "\r\n";
}

}  // namespace sesame::dkim
