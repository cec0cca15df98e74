"""Regression tests for the adversarial review (issue 12), against the real
binary: hostile API fields and content never reach the next hop (a real SMTP
sink on loopback records every command it gets), a second From is refused,
SMTP AUTH brute force is slowed and locked out per address, SNS cannot write
files or call the server's own listeners, and names and signatures are held
to AWS's rules."""
import base64
import json
import os
import smtplib
import socket
import subprocess
import time
import unittest

from harness import BINARY, RawSmtp, Sesame, aws_clients, tls_client_context, wait_until
from sink import FaultSink

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:  # pragma: no cover
    boto3 = None

INJECTIONS = [
    "rp@mydomain.test>\r\nRCPT TO:<inj@sink.test>\r\nDATA\r\nSubject: injected\r\n\r\nx\r\n.\r\n",
    "rp@mydomain.test> SIZE=1 BODY=8BITMIME",
    "rp@mydomain.test>\nRCPT TO:<inj@sink.test>",
    "rp@mydomain.test>\rRCPT TO:<inj@sink.test>",
    "rp@mydomain.test\x00RCPT TO:<inj@sink.test>",
    "<rp@mydomain.test> NOTIFY=SUCCESS",
    "rp@mydomain.test> RCPT TO:<inj@sink.test",
    "@evil.test:rp@mydomain.test",
]


@unittest.skipUnless(boto3, "python3-boto3 missing")
class ApiInjection(unittest.TestCase):
    """Every API field that reaches the envelope, times every payload."""

    @classmethod
    def setUpClass(cls):
        cls.sink = FaultSink(host="127.0.0.2").start()
        cls.server = Sesame(delivery="delivery: {mode: smtp}\napi: {auto_verify: true}\n"
                            f"routes:\n  - {{match: sink.test, hosts: [\"127.0.0.2:{cls.sink.port}\"]}}\n").start()
        cls.v2, cls.v1 = aws_clients(cls.server, "sesv2", "ses")
        cfg = Config(retries={"mode": "standard", "max_attempts": 1})
        cls.v2.meta.config.retries = cfg.retries

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.sink.stop()

    def refused(self, call):
        try:
            call()
        except ClientError as e:
            return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
        return 200, ""

    def simple(self):
        return {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}

    def test_no_field_injects_smtp(self):
        sends = {
            "v1 ReturnPath": lambda p: self.v1.send_email(
                Source="a@mydomain.test", ReturnPath=p, Destination={"ToAddresses": ["to@sink.test"]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}),
            "v1 Source": lambda p: self.v1.send_email(
                Source=p, Destination={"ToAddresses": ["to@sink.test"]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}),
            "v1 To": lambda p: self.v1.send_email(
                Source="a@mydomain.test", Destination={"ToAddresses": [p]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}),
            "v1 raw Destinations": lambda p: self.v1.send_raw_email(
                Source="a@mydomain.test", Destinations=[p],
                RawMessage={"Data": b"From: a@mydomain.test\r\nSubject: s\r\n\r\nt\r\n"}),
            "v1 raw Source": lambda p: self.v1.send_raw_email(
                Source=p, Destinations=["to@sink.test"],
                RawMessage={"Data": b"From: a@mydomain.test\r\nSubject: s\r\n\r\nt\r\n"}),
            "v2 From": lambda p: self.v2.send_email(
                FromEmailAddress=p, Destination={"ToAddresses": ["to@sink.test"]}, Content=self.simple()),
            "v2 To": lambda p: self.v2.send_email(
                FromEmailAddress="a@mydomain.test", Destination={"ToAddresses": [p]}, Content=self.simple()),
            "v2 Bcc": lambda p: self.v2.send_email(
                FromEmailAddress="a@mydomain.test", Destination={"ToAddresses": ["to@sink.test"], "BccAddresses": [p]},
                Content=self.simple()),
            "v2 FeedbackForwardingEmailAddress": lambda p: self.v2.send_email(
                FromEmailAddress="a@mydomain.test", FeedbackForwardingEmailAddress=p,
                Destination={"ToAddresses": ["to@sink.test"]}, Content=self.simple()),
        }
        accepted = []
        for field, send in sends.items():
            for p in INJECTIONS:
                status, code = self.refused(lambda: send(p))
                if status == 200:
                    accepted.append((field, p))
                else:
                    self.assertEqual(status, 400, (field, p, code))
        self.assertEqual(accepted, [], "hostile addresses were accepted")
        # A clean control message arrives, and the sink never saw an injected command.
        self.v2.send_email(FromEmailAddress="a@mydomain.test", Destination={"ToAddresses": ["ctl@sink.test"]},
                           Content=self.simple())
        self.assertTrue(wait_until(lambda: any(r == "ctl@sink.test" for _, r in self.sink.pairs()), 20))
        for mail, rcpts, _ in self.sink.transactions_log:
            self.assertNotIn("inj@sink.test", rcpts)
            self.assertNotIn(" ", mail)
        self.assertFalse(any(b"injected" in b for b in self.sink.bodies.values()))

    def test_bare_cr_nul_and_duplicate_headers_never_reach_the_sink(self):
        raws = {
            "bare CR smuggling": b"From: a@mydomain.test\r\nTo: to@sink.test\r\nSubject: s\r\n\r\nhi\r.\r\n"
                                 b"MAIL FROM:<x@evil.test>\r\nRCPT TO:<inj@sink.test>\r\nDATA\r\n",
            "NUL in a header": b"From: a@mydomain.test\r\nTo: to@sink.test\r\nSubject: a\x00b\r\n\r\nhi\r\n",
            "NUL in the body": b"From: a@mydomain.test\r\nTo: to@sink.test\r\nSubject: s\r\n\r\nh\x00i\r\n",
            "second From": b"From: a@mydomain.test\r\nFrom: CEO <ceo@bank.test>\r\nTo: to@sink.test\r\n\r\nhi\r\n",
            "second Subject": b"From: a@mydomain.test\r\nSubject: a\r\nSubject: b\r\nTo: to@sink.test\r\n\r\nhi\r\n",
        }
        for name, raw in raws.items():
            status, code = self.refused(lambda: self.v2.send_email(Content={"Raw": {"Data": raw}}))
            self.assertEqual((status, code), (400, "MessageRejected"), name)
            status, _ = self.refused(lambda: self.v1.send_raw_email(RawMessage={"Data": raw}))
            self.assertEqual(status, 400, name)
        # NUL through Simple fields and template data.
        nul_simple = {"Simple": {"Subject": {"Data": "a\x00b"}, "Body": {"Text": {"Data": "t"}}}}
        self.assertEqual(self.refused(lambda: self.v2.send_email(
            FromEmailAddress="a@mydomain.test", Destination={"ToAddresses": ["to@sink.test"]},
            Content=nul_simple))[0], 400)
        nul_body = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t\x00u"}}}}
        self.assertEqual(self.refused(lambda: self.v2.send_email(
            FromEmailAddress="a@mydomain.test", Destination={"ToAddresses": ["to@sink.test"]},
            Content=nul_body))[0], 400)
        self.v2.create_email_template(TemplateName="nul", TemplateContent={"Subject": "{{s}}", "Text": "{{s}}"})
        self.assertEqual(self.refused(lambda: self.v2.send_email(
            FromEmailAddress="a@mydomain.test", Destination={"ToAddresses": ["to@sink.test"]},
            Content={"Template": {"TemplateName": "nul", "TemplateData": json.dumps({"s": "a\x00b"})}}))[0], 400)
        # Bare LF is normalised to CRLF (as SES does for Raw) and delivered.
        r = self.v2.send_email(Content={"Raw": {"Data": b"From: a@mydomain.test\nTo: lf@sink.test\nSubject: lf\n\n"
                                                          b"line one\nline two\n"}})
        def lf_body():
            return next((b for b in list(self.sink.bodies.values()) if b"Subject: lf" in b), None)
        self.assertTrue(wait_until(lambda: lf_body() is not None, 20), r["MessageId"])
        body = lf_body()
        self.assertNotRegex(body, rb"[^\r]\n")
        self.assertNotRegex(body, rb"\r[^\n]")
        for mail, rcpts, _ in self.sink.transactions_log:
            self.assertNotIn("inj@sink.test", rcpts)
            self.assertNotEqual(mail, "x@evil.test")


class SmtpAuthBruteForce(unittest.TestCase):
    def test_lockout_from_one_address_leaves_others_working(self):
        server = Sesame().start()
        try:
            codes = []
            t0 = time.time()
            for _ in range(11):
                s = RawSmtp(server.ports["smtp"])
                s.cmd("EHLO brute.test")
                s.starttls()
                s.cmd("EHLO brute.test")
                creds = base64.b64encode(b"\0app\0wrong-password").decode()
                codes.append(s.cmd("AUTH PLAIN " + creds)[0])
                s.close()
            elapsed = time.time() - t0
            # Three free failures, then growing delays, then the address is locked out.
            self.assertEqual(codes[:10], [535] * 10)
            self.assertEqual(codes[10], 454)
            self.assertGreater(elapsed, 0.5 + 1 + 2 + 4)
            # Even the right password is refused from the locked address ...
            c = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
            c.starttls(context=tls_client_context())
            with self.assertRaises(smtplib.SMTPAuthenticationError) as ctx:
                c.login("app", "app-secret")
            self.assertEqual(ctx.exception.smtp_code, 454)
            c.close()
            # ... but another loopback address logs in at once.
            c = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10, source_address=("127.0.0.9", 0))
            c.starttls(context=tls_client_context())
            t1 = time.time()
            c.login("app", "app-secret")
            self.assertLess(time.time() - t1, 2)
            c.quit()
            with socket.create_connection(("127.0.0.1", server.ports["http"])) as h:
                h.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
                text = b""
                while chunk := h.recv(65536):
                    text += chunk
            metrics = dict(l.rsplit(" ", 1) for l in text.decode().split("\r\n\r\n", 1)[1].splitlines()
                           if l and not l.startswith("#"))
            self.assertEqual(metrics['sesame_smtp_auth_failures_total{reason="credentials"}'], "10")
            self.assertGreaterEqual(int(metrics['sesame_smtp_auth_failures_total{reason="locked_out"}']), 2)
            self.assertEqual(metrics["sesame_smtp_auth_lockouts_total"], "1")
        finally:
            server.cleanup()


@unittest.skipUnless(boto3, "python3-boto3 missing")
class SnsCannotReachFilesOrItself(unittest.TestCase):
    def test_file_and_self_subscriptions_are_refused(self):
        server = Sesame().start()
        try:
            sns = aws_clients(server, "sns")
            arn = sns.create_topic(Name="t")["TopicArn"]
            target = os.path.join(server.data_dir, "written-by-api")
            for endpoint in (target, "/proc/self/fd/1", "../../x"):
                with self.assertRaises(ClientError) as ctx:
                    sns.subscribe(TopicArn=arn, Protocol="file", Endpoint=endpoint)
                self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidParameter")
            self.assertFalse(os.path.exists(target))
            http = server.ports["http"]
            for endpoint in (f"http://127.0.0.1:{http}/admin/dlq/purge", f"http://localhost:{http}/admin/dlq",
                             f"http://2130706433:{http}/admin/dlq", f"http://127.1:{http}/",
                             f"http://[::1]:{http}/", f"http://0.0.0.0:{server.ports['smtp']}/"):
                with self.assertRaises(ClientError, msg=endpoint) as ctx:
                    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint)
                self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidParameter", endpoint)
            # Another port on loopback (a local webhook) is fine.
            sns.subscribe(TopicArn=arn, Protocol="http", Endpoint="http://127.0.0.1:9/hook")
        finally:
            server.cleanup()


class StartupFailures(unittest.TestCase):
    def test_port_in_use_exits_1_without_abort(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        server = Sesame()
        server.ports["http"] = busy.getsockname()[1]
        with open(server.config_path) as f:
            text = f.read()
        with open(server.config_path, "w") as f:
            f.write(text.replace("http: {address: 127.0.0.1, port: ",
                                 f"http: {{address: 127.0.0.1, port: {busy.getsockname()[1]}}} #"))
        try:
            run = subprocess.run([BINARY, "serve", "--config", server.config_path], capture_output=True,
                                 text=True, timeout=30)
            self.assertEqual(run.returncode, 1, run.stderr)
            self.assertIn("cannot listen on http", run.stderr)
            self.assertNotIn("terminate called", run.stderr)
        finally:
            busy.close()
            server.cleanup()

    def test_duplicate_yaml_key_is_an_error(self):
        server = Sesame()
        with open(server.config_path, "a") as f:
            f.write("hostname: twice.test\n")
        try:
            run = subprocess.run([BINARY, "config", "check", "--config", server.config_path], capture_output=True,
                                 text=True, timeout=30)
            self.assertNotEqual(run.returncode, 0)
            self.assertIn("hostname: duplicate key (first given at line 3", run.stderr + run.stdout)
        finally:
            server.cleanup()


@unittest.skipUnless(boto3, "python3-boto3 missing")
class SignatureScope(unittest.TestCase):
    def test_wrong_region_and_unsigned_session_token_are_refused(self):
        server = Sesame(delivery="delivery: {mode: hold}\napi: {auto_verify: true}\n").start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            kw = dict(endpoint_url=f"http://127.0.0.1:{server.ports['http']}",
                      aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                      config=Config(retries={"max_attempts": 1}))
            boto3.client("sesv2", region_name="us-east-1", **kw).get_account()
            with self.assertRaises(ClientError) as ctx:
                boto3.client("sesv2", region_name="eu-west-1", **kw).get_account()
            self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
            with self.assertRaises(ClientError) as ctx:
                boto3.client("ses", region_name="eu-west-1", **kw).get_send_quota()
            self.assertEqual(ctx.exception.response["Error"]["Code"], "SignatureDoesNotMatch")
            with self.assertRaises(ClientError) as ctx:
                boto3.client("sesv2", region_name="us-east-1", aws_session_token="FQoGZXIvYXdz", **kw).get_account()
            self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()


class BounceParseOutput(unittest.TestCase):
    def test_json_is_valid_utf8_on_hostile_input(self):
        import tempfile
        cases = [
            b"From: MAILER-DAEMON@x.test\r\nSubject: Undelivered Mail\r\n\r\n<us\xc3\x28er@exa\xffmple.com>: "
            b"host said: 550 5.1.1 user unknown \xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80\r\n",
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
            b"Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; \xff\xfe@\xe2\x82.test\r\n"
            b"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 \x00\x01\xc3\r\n--b--\r\n",
        ]
        with tempfile.TemporaryDirectory() as d:
            for i, raw in enumerate(cases):
                path = os.path.join(d, f"{i}.eml")
                with open(path, "wb") as f:
                    f.write(raw)
                run = subprocess.run([BINARY, "bounce-parse", path], capture_output=True, timeout=30)
                self.assertEqual(run.returncode, 0, run.stderr)
                text = run.stdout.decode("utf-8", errors="strict")  # raises on invalid UTF-8
                report = json.loads(text)
                self.assertIn("not valid UTF-8", " ".join(report.get("warnings", [])))
                self.assertNotIn("\ud800", text)


@unittest.skipUnless(boto3, "python3-boto3 missing")
class ResourceNames(unittest.TestCase):
    def test_invalid_names_are_refused_with_ses_errors(self):
        server = Sesame(delivery="delivery: {mode: hold}\napi: {auto_verify: true}\n").start()
        try:
            v2, v1, sns = aws_clients(server, "sesv2", "ses", "sns")
            bad = ["../x", "a\x00b", "x" * 5000, "a/b", "sp ace"]

            def code(call):
                with self.assertRaises(ClientError) as ctx:
                    call()
                return ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], \
                    ctx.exception.response["Error"]["Code"]
            for name in bad:
                self.assertEqual(code(lambda: v2.create_configuration_set(ConfigurationSetName=name)),
                                 (400, "BadRequestException"), name)
                self.assertEqual(code(lambda: v1.create_configuration_set(ConfigurationSet={"Name": name})),
                                 (400, "InvalidConfigurationSet"), name)
                self.assertEqual(code(lambda: v2.create_email_template(
                    TemplateName=name, TemplateContent={"Subject": "s", "Text": "t"})),
                                 (400, "BadRequestException"), name)
                self.assertEqual(code(lambda: v1.create_template(
                    Template={"TemplateName": name, "SubjectPart": "s", "TextPart": "t"}))[0], 400, name)
                self.assertEqual(code(lambda: v2.create_dedicated_ip_pool(PoolName=name))[0], 400, name)
                self.assertEqual(code(lambda: sns.create_topic(Name=name)), (400, "InvalidParameter"), name)
            for identity in ["../../../../tmp/x", "x" * 5000 + ".com", "ex\x00ample.com", "Foo <foo@bar.baz>",
                             "no-dot"]:
                self.assertEqual(code(lambda: v2.create_email_identity(EmailIdentity=identity)),
                                 (400, "BadRequestException"), identity)
                self.assertEqual(code(lambda: v1.verify_domain_identity(Domain=identity))[0], 400, identity)
                self.assertEqual(code(lambda: v1.verify_email_identity(EmailAddress=identity))[0], 400, identity)
            listed = [i["IdentityName"] for i in v2.list_email_identities()["EmailIdentities"]]
            self.assertEqual(listed, [])
            # Valid names still work.
            v2.create_configuration_set(ConfigurationSetName="ok-set_1")
            v2.create_email_identity(EmailIdentity="example.com")
            v2.create_email_template(TemplateName="ok_t", TemplateContent={"Subject": "s", "Text": "t"})
        finally:
            server.cleanup()


class SubmissionHeaders(unittest.TestCase):
    def test_date_and_message_id_are_added_at_submission_only(self):
        import urllib.request
        server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true, auto_verify: true}\n").start()
        try:
            c = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
            c.starttls(context=tls_client_context())
            c.login("app", "app-secret")
            c.sendmail("app@example.com", ["to@example.org"], "Subject: bare\r\n\r\nno date, no id\r\n")
            c.quit()
            url = f"http://127.0.0.1:{server.ports['http']}/_aws/ses"

            def captured():
                with urllib.request.urlopen(url, timeout=5) as r:
                    return json.loads(r.read())["messages"]
            self.assertTrue(wait_until(lambda: captured(), 10))
            raw = captured()[0]["RawData"]
            head = raw.split("\r\n\r\n", 1)[0]
            self.assertRegex(head, r"(?m)^Date: \w{3}, \d{1,2} \w{3} \d{4} ")
            self.assertRegex(head, r"(?m)^Message-ID: <[^>]+@mx\.sesame\.test>")
            self.assertEqual(head.count("\nDate:"), 1)
        finally:
            server.cleanup()
