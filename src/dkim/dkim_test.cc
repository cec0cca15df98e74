#include "dkim/dkim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "base/base64.h"
#include "dkim/verify.h"

namespace sesame::dkim {
namespace {

std::string Corpus(const std::string& name) {
  const char* src = std::getenv("SESAME_SOURCE_DIR");
  std::ifstream f(
      std::string(src ? src : ".") + "/../shared/corpora/dkim/rfc8463/" + name,
      std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Crlf(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

std::string StripWsp(std::string s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
  }
  return out;
}

// RFC 8463 appendix A.3: both signatures are reproduced exactly.
TEST(Dkim, Rfc8463Vectors) {
  std::string signed_msg = Crlf(Corpus("signed_A3.eml"));
  ASSERT_FALSE(signed_msg.empty());
  auto parsed = SplitMessage(signed_msg);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  const std::string unsigned_text =
      Crlf(Corpus("unsigned.eml"));  // the parse views into it
  auto unsigned_msg = SplitMessage(unsigned_text);
  ASSERT_TRUE(unsigned_msg.ok());
  int checked = 0;
  for (const auto& [name, value] : parsed->headers) {
    if (name != "DKIM-Signature") continue;
    size_t b = value.rfind("b=");
    std::string expected_b = StripWsp(value.substr(b + 2));
    std::string tmpl = "DKIM-Signature:" + value.substr(0, b + 2);
    size_t h_at = value.find("h=");
    std::string h = value.substr(h_at + 2, value.find(';', h_at) - h_at - 2);
    std::vector<std::string> names;
    size_t start = 0;
    while (start <= h.size()) {
      size_t colon = h.find(':', start);
      names.push_back(StripWsp(h.substr(start, colon == std::string::npos
                                                   ? std::string::npos
                                                   : colon - start)));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    bool ed = value.find("a=ed25519-sha256") != std::string::npos;
    auto key = PrivateKey::FromPem(
        Corpus(ed ? "ed25519.private.pem" : "rsa.private.pem"));
    ASSERT_TRUE(key.ok()) << key.error().message();
    auto sig = ComputeSignature(*unsigned_msg, names, tmpl, *key);
    ASSERT_TRUE(sig.ok()) << sig.error().message();
    EXPECT_EQ(*sig, expected_b) << (ed ? "ed25519" : "rsa");
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(Dkim, BodyHashOfTheVector) {
  const std::string text = Crlf(Corpus("unsigned.eml"));
  auto m = SplitMessage(text);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(RelaxedBody(m->body),
            "Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n");
}

TEST(Dkim, RelaxedCanonicalization) {
  EXPECT_EQ(RelaxedBody(" C \r\nD \t E\r\n\r\n\r\n"), " C\r\nD E\r\n");
  EXPECT_EQ(RelaxedBody(""), "");
  EXPECT_EQ(RelaxedBody("\r\n\r\n"), "");
  EXPECT_EQ(RelaxedBody("no newline"), "no newline\r\n");
  EXPECT_EQ(RelaxedHeader("SubJect", " A  b\r\n\t c "), "subject:A b c\r\n");
}

// RFC 6376 section 3.4.4, line by line as the RFC states it: the one-pass
// RelaxedBody must agree with it on every input, bare CR and LF included.
std::string RelaxedBodyByTheRfc(std::string_view body) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < body.size()) {
    size_t eol = body.find("\r\n", start);
    std::string_view raw = body.substr(start, eol == std::string_view::npos
                                                  ? std::string_view::npos
                                                  : eol - start);
    std::string line;
    for (char c : raw) {  // WSP runs to one SP
      bool wsp = c == ' ' || c == '\t';
      if (wsp && !line.empty() && line.back() == ' ') continue;
      line += wsp ? ' ' : c;
    }
    if (!line.empty() && line.back() == ' ') line.pop_back();  // trailing WSP
    lines.push_back(line);
    if (eol == std::string_view::npos) break;
    start = eol + 2;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  for (const auto& l : lines) out += l + "\r\n";
  return out;
}

TEST(Dkim, RelaxedBodyAgreesWithTheRfcOnEveryShortInput) {
  // Every string of up to 7 characters over the alphabet that matters
  // (5^7 = 78,125 cases), then longer random ones.
  const std::string alphabet = " \t\r\na";
  for (int len = 0; len <= 7; ++len) {
    int total = 1;
    for (int i = 0; i < len; ++i) total *= 5;
    for (int n = 0; n < total; ++n) {
      std::string body;
      for (int i = 0, v = n; i < len; ++i, v /= 5) body += alphabet[v % 5];
      ASSERT_EQ(RelaxedBody(body), RelaxedBodyByTheRfc(body))
          << "body: " << ::testing::PrintToString(body);
    }
  }
  uint32_t seed = 12345;
  for (int n = 0; n < 2000; ++n) {
    std::string body;
    int len = n % 300;
    for (int i = 0; i < len; ++i) {
      seed = seed * 1103515245 + 12345;
      body += alphabet[(seed >> 16) % 5];
    }
    ASSERT_EQ(RelaxedBody(body), RelaxedBodyByTheRfc(body))
        << "body: " << ::testing::PrintToString(body);
  }
}

TEST(Dkim, OversignedFromAndBottomUpSelection) {
  auto m = SplitMessage("From: a\r\nTo: x\r\nTo: y\r\n\r\nbody\r\n");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(SignedHeaderBlock(*m, {"to", "to", "to", "from", "from"}),
            "to:y\r\nto:x\r\nfrom:a\r\n");
}

TEST(Dkim, SignProducesAVerifiableFieldForBothAlgorithms) {
  for (auto alg : {Algorithm::kRsaSha256, Algorithm::kEd25519Sha256}) {
    auto key = PrivateKey::Generate(alg, 2048);
    ASSERT_TRUE(key.ok());
    SignOptions o{"example.com", "sel1", 1700000000, {}};
    std::string msg =
        "From: a@example.com\r\nTo: b@example.org\r\nSubject: "
        "s\r\n\r\nbody\r\n";
    auto field = Sign(msg, o, *key);
    ASSERT_TRUE(field.ok()) << field.error().message();
    EXPECT_EQ(field->rfind("DKIM-Signature: v=1; a=", 0), 0u);
    EXPECT_NE(field->find("h=from:to:subject:from;"), std::string::npos)
        << *field;
    for (const char* tag :
         {"d=example.com;", "s=sel1;", "t=1700000000;", "c=relaxed/relaxed;"}) {
      EXPECT_NE(field->find(tag), std::string::npos) << tag << " in " << *field;
    }
    EXPECT_EQ(field->substr(field->size() - 2), "\r\n");
    for (size_t start = 0, nl;
         (nl = field->find("\r\n", start)) != std::string::npos;
         start = nl + 2) {
      EXPECT_LE(nl - start, 80u);
    }
    EXPECT_NE(
        key->DnsRecord().find(alg == Algorithm::kRsaSha256 ? "k=rsa; p=MII"
                                                           : "k=ed25519; p="),
        std::string::npos);
    auto round = PrivateKey::FromPem(key->ToPem());
    ASSERT_TRUE(round.ok());
    EXPECT_EQ(round->DnsRecord(), key->DnsRecord());
  }
}

// Our own signatures verify, for both algorithms; a changed body or header,
// a revoked key and a lookup failure each give their outcome.
TEST(DkimVerify, OwnSignaturesAndTheirFailures) {
  const std::string msg =
      "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\n"
      "Hello\r\n\r\n";
  for (auto alg : {Algorithm::kRsaSha256, Algorithm::kEd25519Sha256}) {
    auto key = PrivateKey::Generate(alg, 1024);
    ASSERT_TRUE(key.ok());
    SignOptions o;
    o.domain = "example.com";
    o.selector = "s1";
    o.timestamp = 1700000000;
    auto sig = Sign(msg, o, *key);
    ASSERT_TRUE(sig.ok());
    std::string record = key->DnsRecord();
    KeyLookup lookup =
        [&](const std::string& name) -> Result<std::vector<std::string>> {
      if (name != "s1._domainkey.example.com")
        return std::vector<std::string>{};
      return std::vector<std::string>{record};
    };
    auto ok = Verify(*sig + msg, lookup, 1700000001);
    // The b= tag folded onto a line of its own, as dkimpy and others write
    // it, is still found and emptied.
    std::string refolded = *sig;
    refolded.replace(refolded.find(" b="), 3, "\r\n b=");
    EXPECT_EQ(Verify(refolded + msg, lookup, 0)[0].outcome, Outcome::kPass);
    ASSERT_EQ(ok.size(), 1u);
    EXPECT_EQ(ok[0].outcome, Outcome::kPass) << ok[0].why;
    EXPECT_EQ(ok[0].domain, "example.com");
    std::string body_changed = *sig + msg;
    body_changed.replace(body_changed.find("Hello"), 5, "Hullo");
    EXPECT_EQ(Verify(body_changed, lookup, 0)[0].outcome, Outcome::kFail);
    std::string header_changed = *sig + msg;
    header_changed.replace(header_changed.find("Subject: hi"), 11,
                           "Subject: ho");
    EXPECT_EQ(Verify(header_changed, lookup, 0)[0].outcome, Outcome::kFail);
    record = "v=DKIM1; p=";
    EXPECT_EQ(Verify(*sig + msg, lookup, 0)[0].outcome, Outcome::kPermError);
    KeyLookup down =
        [](const std::string&) -> Result<std::vector<std::string>> {
      return Error::Transient("dns", "timeout");
    };
    EXPECT_EQ(Verify(*sig + msg, down, 0)[0].outcome, Outcome::kTempError);
  }
  EXPECT_TRUE(Verify(msg, nullptr, 0).empty());
}

}  // namespace
}  // namespace sesame::dkim
