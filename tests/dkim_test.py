"""DKIM end to end: mail sent on every path (SES v2 Simple/Raw/Template, v1,
SMTP) is signed once with the From domain's Easy DKIM key, and dkimpy
verifies each captured message against the published record."""
import base64
import os
import json
import random
import re
import shutil
import smtplib
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

from harness import BINARY, Sesame, tls_client_context, wait_until

try:
    import boto3
    import botocore
    import dkim
except ImportError:  # pragma: no cover
    boto3 = dkim = None

DOMAIN = "signed.example"
OPENDKIM = "/usr/sbin/opendkim-testmsg"


def captured(test, endpoint, message_id):
    """The captured message `message_id` from `/_aws/ses`, waiting for it to arrive."""
    got = []

    def poll():
        with urllib.request.urlopen(f"{endpoint}/_aws/ses?id={message_id}", timeout=5) as r:
            got[:] = json.loads(r.read())["messages"]
        return bool(got)
    test.assertTrue(wait_until(poll, 10))
    return got[0]


def identity_records(server, domain):
    """`sesame identity records DOMAIN --json`: the records, in order."""
    out = subprocess.run([BINARY, "identity", "records", domain, "--json", "--config", server.config_path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["Records"]


def opendkim_usable():
    """OpenDKIM resolves through resolv.conf (port 53 only), so the check runs it in a private mount
    namespace whose resolv.conf names a dnsmasq on a loopback address: that needs root."""
    if not (os.path.exists(OPENDKIM) and os.geteuid() == 0 and shutil.which("unshare")):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


def opendkim_verify(raw, txt):
    """Runs OpenDKIM's verifier on `raw` with the TXT records `txt` ({name: value}) served by a real
    DNS server; returns (exit code, stderr). Exit 0 with no output means every signature verified."""
    from dns_helper import Dnsmasq
    address = f"127.53.{random.randint(1, 254)}.{random.randint(1, 254)}"
    dns = Dnsmasq(txt=[(n.rstrip("."), v.decode() if isinstance(v, bytes) else v) for n, v in txt.items()], port=53, listen=address)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".resolv.conf") as rc:
            rc.write(f"nameserver {address}\n")
            rc.flush()
            p = subprocess.run(["unshare", "-m", "sh", "-c",
                                f"mount --bind {rc.name} /etc/resolv.conf && exec {OPENDKIM}"],
                               input=raw, capture_output=True, timeout=30)
        return p.returncode, p.stderr.decode()
    finally:
        dns.stop()


@unittest.skipUnless(boto3 and dkim, "python3-boto3 or python3-dkim missing")
class DkimEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true, auto_verify: true}\n").start()
        key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", cls.server.config_path],
                                        capture_output=True, text=True, check=True).stdout)
        cls.endpoint = f"http://127.0.0.1:{cls.server.ports['http']}"
        kw = dict(endpoint_url=cls.endpoint, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                  aws_secret_access_key=key["SecretAccessKey"])
        cls.v2 = boto3.client("sesv2", **kw)
        cls.v1 = boto3.client("ses", **kw)
        r = cls.v2.create_email_identity(EmailIdentity=DOMAIN)
        cls.selector = r["DkimAttributes"]["Tokens"][0]
        records = identity_records(cls.server, DOMAIN)
        cls.txt = {r["Name"] + ".": r["Value"] for r in records}
        assert f"{cls.selector}._domainkey.{DOMAIN}." in cls.txt, (cls.selector, cls.txt)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def dns(self, name, timeout=5):
        value = self.txt.get(name.decode() if isinstance(name, bytes) else name)
        return value.encode() if value else None

    def raw(self, message_id):
        return captured(self, self.endpoint, message_id)["RawData"].encode()

    def assert_signed_once(self, raw):
        self.assertEqual(raw.count(b"DKIM-Signature:"), 1, raw[:400])
        self.assertTrue(raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"))
        self.assertTrue(dkim.verify(raw, dnsfunc=self.dns), raw[:600])
        # Tampering breaks it: the signature covers what it should.
        self.assertFalse(dkim.verify(raw.replace(b"Subject:", b"Subject: x", 1), dnsfunc=self.dns))

    @unittest.skipUnless(opendkim_usable(), "opendkim-tools missing or not root (needs a private resolv.conf)")
    def test_opendkim_verifies_too(self):
        """A second, independent verifier: OpenDKIM's library, resolving the key through real DNS."""
        mid = self.v2.send_email(FromEmailAddress=f"Ünïcode <o@{DOMAIN}>", Destination={"ToAddresses": ["o@example.org"]},
                                 Content={"Simple": {"Subject": {"Data": "checked by OpenDKIM"},
                                                     "Body": {"Text": {"Data": "line one\n\nline three  \n"}}}})["MessageId"]
        raw = self.raw(mid)
        self.assertEqual(opendkim_verify(raw, self.txt), (0, ""))
        code, err = opendkim_verify(raw.replace(b"line one", b"line 1", 1), self.txt)
        self.assertNotEqual(code, 0)
        self.assertIn("Bad signature", err)
        # Without the key in DNS it cannot verify: the check above really used the served record.
        self.assertNotEqual(opendkim_verify(raw, {})[0], 0)

    def test_every_api_path_is_signed_and_verifies(self):
        ids = []
        ids.append(self.v2.send_email(
            FromEmailAddress=f"Sender Ünïcode <news@{DOMAIN}>", Destination={"ToAddresses": ["a@example.org"]},
            Content={"Simple": {"Subject": {"Data": "8-bit body and a long subject " + "x" * 120},
                                "Body": {"Text": {"Data": "Grüße\n" * 50}, "Html": {"Data": "<p>hi</p>"}}}})["MessageId"])
        ids.append(self.v2.send_email(
            FromEmailAddress=f"news@{DOMAIN}", Destination={"ToAddresses": ["a@example.org"]},
            Content={"Simple": {"Subject": {"Data": "empty body"}, "Body": {"Text": {"Data": ""}}}})["MessageId"])
        raw = (f"From: raw@{DOMAIN}\r\nTo: b@example.org\r\nSubject: raw with a folded\r\n header line\r\n"
               "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
               "Content-Type: text/plain\r\n\r\ntext part\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n--b1--\r\n").encode()
        ids.append(self.v2.send_email(Content={"Raw": {"Data": raw}})["MessageId"])
        self.v2.create_email_template(TemplateName="dk", TemplateContent={"Subject": "Hi {{n}}", "Text": "t {{n}}"})
        ids.append(self.v2.send_email(FromEmailAddress=f"t@{DOMAIN}", Destination={"ToAddresses": ["c@example.org"]},
                                      Content={"Template": {"TemplateName": "dk", "TemplateData": '{"n":"x"}'}})[
            "MessageId"])
        bulk = self.v2.send_bulk_email(FromEmailAddress=f"bulk@{DOMAIN}",
                                       DefaultContent={"Template": {"TemplateName": "dk", "TemplateData": '{"n":"y"}'}},
                                       BulkEmailEntries=[{"Destination": {"ToAddresses": ["d@example.org"]}}])
        ids.append(bulk["BulkEmailEntryResults"][0]["MessageId"])
        ids.append(self.v1.send_email(Source=f"v1@{DOMAIN}", Destination={"ToAddresses": ["e@example.org"]},
                                      Message={"Subject": {"Data": "v1"}, "Body": {"Text": {"Data": "v1"}}})["MessageId"])
        for mid in ids:
            self.assert_signed_once(self.raw(mid))

    def test_smtp_submission_is_signed_and_other_domains_are_not(self):
        c = smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=10)
        c.starttls(context=tls_client_context())
        c.login("app", "app-secret")
        c.mail(f"smtp@{DOMAIN}")
        c.rcpt("f@example.org")
        code, resp = c.data(f"From: smtp@{DOMAIN}\r\nTo: f@example.org\r\nSubject: via smtp\r\n\r\nbody\r\n".encode())
        self.assertEqual(code, 250)
        signed_id = resp.decode().split()[-1]
        c.mail("other@unsigned.example")
        c.rcpt("g@example.org")
        code, resp = c.data(b"From: other@unsigned.example\r\nTo: g@example.org\r\nSubject: no key\r\n\r\nbody\r\n")
        unsigned_id = resp.decode().split()[-1]
        c.quit()
        raw = self.raw(signed_id)
        self.assert_signed_once(raw)
        self.assertNotIn(b"DKIM-Signature", self.raw(unsigned_id))

    def test_byodkim_external_key_then_back_to_easy_dkim(self):
        pem = subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, check=True).stdout
        der = subprocess.run(["openssl", "rsa", "-outform", "DER"], input=pem, capture_output=True, check=True).stdout
        pub = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=pem, capture_output=True,
                             check=True).stdout
        self.v2.create_email_identity(EmailIdentity="byo.example")
        r = self.v2.put_email_identity_dkim_signing_attributes(
            EmailIdentity="byo.example", SigningAttributesOrigin="EXTERNAL",
            SigningAttributes={"DomainSigningSelector": "mykey",
                               "DomainSigningPrivateKey": base64.b64encode(der).decode()})
        self.assertEqual(r["DkimTokens"], ["mykey"])
        self.assertEqual(self.v2.get_email_identity(EmailIdentity="byo.example")["DkimAttributes"][
            "SigningAttributesOrigin"], "EXTERNAL")
        mid = self.v2.send_email(FromEmailAddress="a@byo.example", Destination={"ToAddresses": ["z@example.org"]},
                                 Content={"Simple": {"Subject": {"Data": "byo"}, "Body": {"Text": {"Data": "t"}}}})[
            "MessageId"]
        raw = self.raw(mid)
        self.assertIn(b"s=mykey", raw)
        record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(pub)
        self.assertTrue(dkim.verify(raw, dnsfunc=lambda name, timeout=5: record
                                    if name in (b"mykey._domainkey.byo.example.", "mykey._domainkey.byo.example.")
                                    else None))
        with self.assertRaises(botocore.exceptions.ClientError):
            self.v2.put_email_identity_dkim_signing_attributes(
                EmailIdentity="byo.example", SigningAttributesOrigin="EXTERNAL",
                SigningAttributes={"DomainSigningSelector": "bad", "DomainSigningPrivateKey": "bm90IGEga2V5"})
        r = self.v2.put_email_identity_dkim_signing_attributes(
            EmailIdentity="byo.example", SigningAttributesOrigin="AWS_SES",
            SigningAttributes={"NextSigningKeyLength": "RSA_1024_BIT"})
        self.assertNotEqual(r["DkimTokens"], ["mykey"])

    def test_signing_can_be_disabled_per_identity(self):
        self.v2.put_email_identity_dkim_attributes(EmailIdentity=DOMAIN, SigningEnabled=False)
        try:
            mid = self.v2.send_email(FromEmailAddress=f"off@{DOMAIN}", Destination={"ToAddresses": ["h@example.org"]},
                                     Content={"Simple": {"Subject": {"Data": "off"}, "Body": {"Text": {"Data": "t"}}}})[
                "MessageId"]
            self.assertNotIn(b"DKIM-Signature", self.raw(mid))
            self.assertFalse(self.v2.get_email_identity(EmailIdentity=DOMAIN)["DkimAttributes"]["SigningEnabled"])
        finally:
            self.v2.put_email_identity_dkim_attributes(EmailIdentity=DOMAIN, SigningEnabled=True)


@unittest.skipUnless(boto3 and dkim, "python3-boto3 or python3-dkim missing")
class Ed25519Signatures(unittest.TestCase):
    def test_rsa_and_ed25519_both_verify(self):
        server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true, auto_verify: true}\n"
                                 "dkim: {ed25519: true}\n").start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            endpoint = f"http://127.0.0.1:{server.ports['http']}"
            v2 = boto3.client("sesv2", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
            v2.create_email_identity(EmailIdentity="ed.example")
            records = identity_records(server, "ed.example")
            txt = {r["Name"] + ".": r["Value"].encode() for r in records}
            self.assertEqual(sorted(r["Purpose"] for r in records), ["dkim", "dkim-ed25519", "dmarc",
                                                                   "hostname-a", "hostname-ptr", "spf",
                                                                   "verification"])
            mid = v2.send_email(FromEmailAddress="x@ed.example", Destination={"ToAddresses": ["y@example.org"]},
                                Content={"Simple": {"Subject": {"Data": "two signatures"},
                                                    "Body": {"Text": {"Data": "hello"}}}})["MessageId"]
            raw = captured(self, endpoint, mid)["RawData"].encode()
            self.assertEqual(raw.count(b"DKIM-Signature:"), 2)
            self.assertIn(b"a=ed25519-sha256", raw)
            dns = lambda name, timeout=5: txt.get(name.decode() if isinstance(name, bytes) else name)
            # dkimpy checks the first signature by default; idx picks each one.
            self.assertTrue(dkim.DKIM(raw).verify(idx=0, dnsfunc=dns))
            self.assertTrue(dkim.DKIM(raw).verify(idx=1, dnsfunc=dns))
            if not opendkim_usable():
                # Reported, not silently dropped: dkimpy verified both above.
                self.skipTest("OpenDKIM's Ed25519 checks need root and a mount namespace (dnsmasq as resolver)")
            self.assertEqual(opendkim_verify(raw, txt), (0, ""))
            # With only the Ed25519 key published, OpenDKIM passes on the Ed25519 signature alone.
            ed_only = {n: v for n, v in txt.items() if b"k=ed25519" in v}
            self.assertEqual(len(ed_only), 1)
            self.assertEqual(opendkim_verify(raw, ed_only), (0, ""))
            self.assertNotEqual(opendkim_verify(raw.replace(b"hello", b"hellO"), ed_only)[0], 0)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(boto3, "python3-boto3 missing")
class EmailVerificationByLink(unittest.TestCase):
    def test_link_verifies_the_address(self):
        import re
        server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true}\n").start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            endpoint = f"http://127.0.0.1:{server.ports['http']}"
            v2 = boto3.client("sesv2", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
            args = dict(FromEmailAddress="me@person.example", Destination={"ToAddresses": ["r@example.org"]},
                        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})
            v2.create_email_identity(EmailIdentity="me@person.example")
            self.assertEqual(v2.get_email_identity(EmailIdentity="me@person.example")["VerificationStatus"], "PENDING")
            with self.assertRaises(botocore.exceptions.ClientError):
                v2.send_email(**args)
            found = []

            def poll():
                with urllib.request.urlopen(f"{endpoint}/_aws/ses", timeout=5) as r:
                    found[:] = [m for m in json.loads(r.read())["messages"]
                                if m["Destination"]["ToAddresses"] == ["me@person.example"]]
                return bool(found)
            self.assertTrue(wait_until(poll, 10))
            link = re.search(r"(http://\S+/verify-email\?\S+)", found[0]["Body"]["text_part"]).group(1)
            bad = link[:-4] + "0000"
            with self.assertRaises(urllib.error.HTTPError):
                urllib.request.urlopen(bad, timeout=5)
            with urllib.request.urlopen(link, timeout=5) as r:
                self.assertEqual(r.status, 200)
                self.assertIn(b"is verified", r.read())
            self.assertEqual(v2.get_email_identity(EmailIdentity="me@person.example")["VerificationStatus"], "SUCCESS")
            v2.send_email(**args)
            with self.assertRaises(urllib.error.HTTPError):
                urllib.request.urlopen(link, timeout=5)  # used once
        finally:
            server.cleanup()


@unittest.skipUnless(boto3 and os.path.exists("/usr/sbin/dnsmasq"), "python3-boto3 or dnsmasq missing")
class DomainVerificationByDns(unittest.TestCase):
    def test_status_follows_the_records_in_dnsmasq(self):
        from dns_helper import Dnsmasq
        dns = Dnsmasq()
        port = dns.port
        server = Sesame(delivery=f"delivery: {{mode: capture, resolver: {dns.address}}}\n"
                                 "api: {local_mailbox: true}\n"
                                 "identities: {verify_interval_seconds: 1, failure_after_seconds: 4}\n").start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            kw = dict(endpoint_url=f"http://127.0.0.1:{server.ports['http']}", region_name="us-east-1",
                      aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
            v2 = boto3.client("sesv2", **kw)
            v1 = boto3.client("ses", **kw)
            status = lambda d: v2.get_email_identity(EmailIdentity=d)["VerificationStatus"]
            send = lambda frm: v2.send_email(FromEmailAddress=frm, Destination={"ToAddresses": ["r@example.org"]},
                                             Content={"Simple": {"Subject": {"Data": "s"},
                                                                 "Body": {"Text": {"Data": "t"}}}})
            v2.create_email_identity(EmailIdentity="verify.test")
            self.assertEqual(status("verify.test"), "PENDING")
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                send("a@verify.test")
            self.assertEqual(ctx.exception.response["Error"]["Code"], "MessageRejected")
            records = {r["Purpose"]: r for r in identity_records(server, "verify.test")}
            # The DKIM record appears: verified.
            dns.stop()
            dns = Dnsmasq(port=port, txt=[(records["dkim"]["Name"], records["dkim"]["Value"])])
            self.assertTrue(wait_until(lambda: status("verify.test") == "SUCCESS", 10))
            now = {r["Purpose"]: r["Status"] for r in identity_records(server, "verify.test")}
            self.assertEqual(now, {"verification": "missing", "dkim": "ok", "spf": "missing", "dmarc": "missing",
                                   "hostname-a": "missing", "hostname-ptr": "unchecked"})
            got = v2.get_email_identity(EmailIdentity="verify.test")
            self.assertTrue(got["VerifiedForSendingStatus"])
            self.assertEqual(got["DkimAttributes"]["Status"], "SUCCESS")
            # This botocore predates VerificationInfo: read it from the raw response.
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            req = AWSRequest(method="GET", url=f"http://127.0.0.1:{server.ports['http']}/v2/email/identities/verify.test")
            SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "ses", "us-east-1").add_auth(req)
            with urllib.request.urlopen(urllib.request.Request(req.url, headers=dict(req.headers.items())),
                                        timeout=5) as r:
                info = json.loads(r.read())["VerificationInfo"]
            self.assertGreaterEqual(info["LastSuccessTimestamp"], info["LastCheckedTimestamp"] - 2)
            send("a@verify.test")
            send("b@sub.verify.test")  # a subdomain inherits its verified parent
            # Rotation with overlap: the next selector is published first and
            # the old one keeps signing until the new record resolves.
            old_selector = records["dkim"]["Name"].split(".")[0]
            tokens = v2.put_email_identity_dkim_signing_attributes(
                EmailIdentity="verify.test", SigningAttributesOrigin="AWS_SES")["DkimTokens"]
            self.assertEqual(len(tokens), 2)
            self.assertEqual(tokens[0], old_selector)
            records = {r["Purpose"]: r for r in identity_records(server, "verify.test")}
            self.assertEqual(records["dkim-next"]["Name"], f"{tokens[1]}._domainkey.verify.test")
            self.assertEqual(records["dkim-next"]["Status"], "missing")
            endpoint = f"http://127.0.0.1:{server.ports['http']}"
            signed_with = lambda mid: re.search(rb"DKIM-Signature:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*",
                                                captured(self, endpoint, mid)["RawData"].encode()).group(0)
            self.assertIn(f"s={old_selector};".encode(), signed_with(send("c@verify.test")["MessageId"]))
            self.assertEqual(status("verify.test"), "SUCCESS")
            dns.stop()
            dns = Dnsmasq(port=port, txt=[(records["dkim"]["Name"], records["dkim"]["Value"]),
                                          (records["dkim-next"]["Name"], records["dkim-next"]["Value"])])
            self.assertTrue(wait_until(
                lambda: v2.get_email_identity(EmailIdentity="verify.test")["DkimAttributes"]["Tokens"] == [tokens[1]],
                10))
            self.assertIn(f"s={tokens[1]};".encode(), signed_with(send("d@verify.test")["MessageId"]))
            # The record disappears: temporary failure, then failure.
            dns.stop()
            dns = Dnsmasq(port=port)
            self.assertTrue(wait_until(lambda: status("verify.test") == "TEMPORARY_FAILURE", 10))
            self.assertTrue(wait_until(lambda: status("verify.test") == "FAILED", 10))
            with self.assertRaises(botocore.exceptions.ClientError):
                send("a@verify.test")
            # v1's _amazonses TXT token verifies a domain as well.
            token = v1.verify_domain_identity(Domain="token.test")["VerificationToken"]
            # A domain with an Easy DKIM key but only its token published:
            # verified, yet its DKIM is not SUCCESS (no DKIM record exists).
            v2.create_email_identity(EmailIdentity="tokdkim.test")
            tokdkim = v1.verify_domain_identity(Domain="tokdkim.test")["VerificationToken"]
            dns.stop()
            dns = Dnsmasq(port=port, txt=[("_amazonses.token.test", token),
                                          ("_amazonses.tokdkim.test", tokdkim)])
            self.assertTrue(wait_until(lambda: status("token.test") == "SUCCESS", 10))
            self.assertTrue(wait_until(lambda: status("tokdkim.test") == "SUCCESS", 10))
            dkim_attrs = v2.get_email_identity(EmailIdentity="tokdkim.test")["DkimAttributes"]
            self.assertTrue(dkim_attrs["SigningEnabled"])
            self.assertEqual(dkim_attrs["Status"], "PENDING")
            v1_dkim = v1.get_identity_dkim_attributes(Identities=["tokdkim.test"])["DkimAttributes"]["tokdkim.test"]
            self.assertEqual(v1_dkim["DkimVerificationStatus"], "Pending")
            attrs = v1.get_identity_verification_attributes(
                Identities=["token.test", "verify.test"])["VerificationAttributes"]
            self.assertEqual(attrs["token.test"]["VerificationStatus"], "Success")
            self.assertEqual(attrs["token.test"]["VerificationToken"], token)
            self.assertEqual(attrs["verify.test"]["VerificationStatus"], "Failed")
        finally:
            server.cleanup()
            dns.stop()


@unittest.skipUnless(boto3 and os.path.exists("/usr/sbin/dnsmasq"), "python3-boto3 or dnsmasq missing")
class CustomMailFrom(unittest.TestCase):
    def test_mail_from_follows_its_mx_and_spf(self):
        from dns_helper import Dnsmasq
        dns = Dnsmasq()
        port = dns.port
        server = Sesame(delivery=f"delivery: {{mode: capture, resolver: {dns.address}}}\n"
                                 "api: {local_mailbox: true}\n"
                                 "identities: {verify_interval_seconds: 1, failure_after_seconds: 3600}\n")
        token = next(r["Value"] for r in identity_records(server, "mf.test") if r["Purpose"] == "verification")
        base = [("_amazonses.mf.test", token)]
        dns.stop()
        dns = Dnsmasq(port=port, txt=base)
        server.start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            endpoint = f"http://127.0.0.1:{server.ports['http']}"
            v2 = boto3.client("sesv2", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
            v2.create_email_identity(EmailIdentity="mf.test")
            v2.put_email_identity_mail_from_attributes(EmailIdentity="mf.test", MailFromDomain="mail.mf.test",
                                                       BehaviorOnMxFailure="REJECT_MESSAGE")
            attrs = lambda: v2.get_email_identity(EmailIdentity="mf.test")["MailFromAttributes"]
            self.assertTrue(wait_until(lambda: attrs()["MailFromDomainStatus"] == "FAILED", 10), attrs())
            self.assertEqual(v2.get_email_identity(EmailIdentity="mf.test")["VerificationStatus"], "SUCCESS")
            args = dict(FromEmailAddress="a@mf.test", Destination={"ToAddresses": ["r@example.org"]},
                        Content={"Simple": {"Subject": {"Data": "mf"}, "Body": {"Text": {"Data": "t"}}}})
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v2.send_email(**args)
            self.assertEqual(ctx.exception.response["Error"]["Code"], "MailFromDomainNotVerifiedException")
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v2.put_email_identity_mail_from_attributes(EmailIdentity="mf.test", MailFromDomain="elsewhere.test")
            self.assertEqual(ctx.exception.response["Error"]["Code"], "BadRequestException")
            # Its MX (to this server) and SPF appear: the return path moves there.
            dns.stop()
            dns = Dnsmasq(port=port, txt=base + [("mail.mf.test", "v=spf1 a:mx.sesame.test ~all")],
                          mx=[("mail.mf.test", "mx.sesame.test", 10)], hosts=[("mx.sesame.test", "127.0.0.1")])
            self.assertTrue(wait_until(lambda: attrs()["MailFromDomainStatus"] == "SUCCESS", 10), attrs())
            mid = v2.send_email(**args)["MessageId"]
            self.assertEqual(captured(self, endpoint, mid)["Source"], "a@mail.mf.test")  # the envelope sender
            # Bounces come back to the MAIL FROM domain: the MX accepts it, and nothing unrelated.
            from harness import RawSmtp
            mx = RawSmtp(server.ports["mx"])
            mx.cmd("EHLO remote.example")
            mx.cmd("MAIL FROM:<>")
            self.assertEqual(mx.cmd("RCPT TO:<a@mail.mf.test>")[0], 250)
            self.assertEqual(mx.cmd("RCPT TO:<a@other.mf.test>")[0], 550)
            mx.cmd("QUIT")
        finally:
            server.cleanup()
            dns.stop()
