"""SES email receiving, end to end with real parts: receipt rule sets through
boto3, swaks to the MX, s3rver as S3 (checking Sesame's own SigV4 signing),
an SNS webhook subscriber, an HTTPS function URL for the Lambda action,
dnsmasq serving the sender's SPF, DKIM and DMARC records (the message signed
by dkimpy), and SpamAssassin's spamd and ClamAV's clamd for ScanEnabled
rules."""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dns_helper import Dnsmasq
from harness import Sesame, aws_clients, aws_error_code, free_port, metric, requires, wait_until
from webhook import Receiver

try:
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
except ImportError:  # pragma: no cover
    dkim = None

HERE = os.path.dirname(os.path.abspath(__file__))
S3RVER = os.path.join(HERE, "node", "node_modules", ".bin", "s3rver")
ACCOUNT = "000000000000"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:inbound"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:inbox"
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


class FunctionUrl:
    """An HTTPS function URL: records each event, answers a disposition."""

    def __init__(self, cert, key):
        self.events = []
        self.disposition = "CONTINUE"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.events.append((dict(self.headers), json.loads(body)))
                reply = json.dumps({"disposition": outer.disposition}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def smtp_dialogue(port, lines):
    """Sends SMTP lines one at a time; returns every reply line read."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        replies = [f.readline().decode()]
        for line in lines:
            s.sendall(line.encode() + b"\r\n")
            while True:
                r = f.readline().decode()
                replies.append(r)
                if len(r) < 4 or r[3] != "-":
                    break
        return replies


def swaks(port, sender, rcpt, message_path):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--from", sender, "--to", rcpt,
                           "--data", message_path, "--helo", "client.sender.test"],
                          capture_output=True, text=True, timeout=60)


@requires(shutil.which("swaks") and os.path.exists("/usr/sbin/dnsmasq") and os.path.exists(S3RVER)
          and dkim is not None, "swaks, dnsmasq, s3rver (npm) and dkimpy are needed")
class Receiving(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sesame-recv-")
        # The sender's DKIM key, published by dnsmasq with SPF and DMARC.
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.dkim_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        pub = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        cls.dns = Dnsmasq(txt=[("sender.test", "v=spf1 ip4:127.0.0.1 -all"),
                               ("sel._domainkey.sender.test", "v=DKIM1; k=rsa; p=" + base64.b64encode(pub).decode()),
                               ("_dmarc.sender.test", "v=DMARC1; p=reject"),
                               ("forged.test", "v=spf1 ip4:192.0.2.1 -all"),
                               ("_dmarc.forged.test", "v=DMARC1; p=quarantine")])
        # s3rver checks SigV4 signatures made with its default key pair.
        cls.s3_port = free_port()
        cls.s3_dir = os.path.join(cls.tmp, "s3")
        cls.start_s3()
        cert, keyfile = os.path.join(cls.tmp, "fn.pem"), os.path.join(cls.tmp, "fn.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyfile,
                        "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
        cls.function = FunctionUrl(cert, keyfile)
        cls.hook = Receiver().start()
        cls.scanners = Scanners(cls.tmp)
        cls.server = Sesame(extra_yaml=f"""events:
  topics:
    - name: inbound
      subscriptions:
        - {{protocol: http, endpoint: "http://127.0.0.1:{cls.hook.port}/"}}
receiving:
  s3_endpoint: http://127.0.0.1:{cls.s3_port}
  s3_access_key_id: S3RVER
  s3_secret_access_key: S3RVER
  ca_file: {cert}
  lambda_function_urls:
    "{FUNCTION}": "https://localhost:{cls.function.port}/invoke"
  spamd: "{cls.scanners.spamd_address}"
  clamd: "{cls.scanners.clamd_address}"
  timeout_seconds: 60
""", delivery=f"delivery:\n  mode: smtp\n  resolver: {cls.dns.address}\n").start()
        cls.ses = aws_clients(cls.server, "ses")
        cls.ses.verify_domain_identity(Domain="example.test")
        wait_until(lambda: cls.hook.confirmations, timeout=20)

    @classmethod
    def start_s3(cls):
        cls.s3 = subprocess.Popen([S3RVER, "-d", cls.s3_dir, "-p", str(cls.s3_port), "-a", "127.0.0.1",
                                   "--configure-bucket", "inbox", "--silent"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _connects(cls.s3_port), timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.scanners.stop()
        cls.function.stop()
        cls.hook.stop()
        cls.s3.terminate()
        cls.s3.wait(10)
        cls.dns.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.ses.create_receipt_rule_set(RuleSetName=self.id().split(".")[-1].replace("_", "-"))
        self.rule_set = self.id().split(".")[-1].replace("_", "-")
        self.ses.set_active_receipt_rule_set(RuleSetName=self.rule_set)
        self.hook.notifications.clear()
        self.function.events.clear()

    def tearDown(self):
        self.ses.set_active_receipt_rule_set()
        self.ses.delete_receipt_rule_set(RuleSetName=self.rule_set)
        for f in self.ses.list_receipt_filters()["Filters"]:
            self.ses.delete_receipt_filter(FilterName=f["Name"])

    def signed_message(self, subject, body="Hello from the sender.\r\n", sender="alice@sender.test",
                       extra=b""):
        msg = (f"From: Alice <{sender}>\r\nTo: inbox@example.test\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject}@sender.test>\r\nDate: Wed, 02 Dec 2026 12:00:00 +0000\r\n").encode()
        msg += extra + b"\r\n" + body.encode()
        sig = dkim.sign(msg, b"sel", b"sender.test", self.dkim_key,
                        include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
        path = os.path.join(self.tmp, subject + ".eml")
        with open(path, "wb") as f:
            f.write(sig + msg)
        return path

    def notifications(self, n, timeout=30):
        wait_until(lambda: len(self.hook.notifications) >= n, timeout=timeout)
        return [json.loads(m["Message"]) for _, m in self.hook.notifications]

    def test_s3_sns_lambda_stop_with_verdicts(self):
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={
            "Name": "store", "Enabled": True, "Recipients": ["example.test"],
            "Actions": [
                {"AddHeaderAction": {"HeaderName": "X-Received-By", "HeaderValue": "sesame-rule"}},
                {"S3Action": {"BucketName": "inbox", "ObjectKeyPrefix": "mail/"}},
                {"SNSAction": {"TopicArn": TOPIC, "Encoding": "UTF-8"}},
                {"LambdaAction": {"FunctionArn": FUNCTION, "InvocationType": "RequestResponse"}},
                {"StopAction": {"Scope": "RuleSet"}}]})
        # After the Stop: never runs.
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, After="store", Rule={
            "Name": "after-stop", "Enabled": True,
            "Actions": [{"S3Action": {"BucketName": "inbox", "ObjectKeyPrefix": "never/"}}]})
        described = self.ses.describe_receipt_rule_set(RuleSetName=self.rule_set)
        self.assertEqual([r["Name"] for r in described["Rules"]], ["store", "after-stop"])
        self.assertEqual(described["Rules"][0]["Actions"][1]["S3Action"]["BucketName"], "inbox")
        self.assertEqual(self.ses.describe_active_receipt_rule_set()["Metadata"]["Name"], self.rule_set)

        r = swaks(self.server.ports["mx"], "alice@sender.test", "inbox@example.test",
                  self.signed_message("stored"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        note = self.notifications(1)[0]
        self.assertEqual(note["notificationType"], "Received")
        receipt = note["receipt"]
        self.assertEqual(receipt["action"]["type"], "SNS")
        self.assertEqual(receipt["recipients"], ["inbox@example.test"])
        self.assertEqual(receipt["spfVerdict"]["status"], "PASS")
        self.assertEqual(receipt["dkimVerdict"]["status"], "PASS")
        self.assertEqual(receipt["dmarcVerdict"]["status"], "PASS")
        self.assertEqual(receipt["spamVerdict"]["status"], "GRAY")  # ScanEnabled is off
        self.assertEqual(note["mail"]["commonHeaders"]["subject"], "stored")
        self.assertIn("X-Received-By: sesame-rule", note["content"])
        self.assertIn("Hello from the sender.", note["content"])
        # The object s3rver stored, under the message id.
        key = "mail/" + note["mail"]["messageId"]
        wait_until(lambda: os.path.exists(os.path.join(self.s3_dir, "inbox", key + "._S3rver_object")), 10)
        with open(os.path.join(self.s3_dir, "inbox", key + "._S3rver_object"), "rb") as f:
            stored = f.read()
        self.assertIn(b"X-Received-By: sesame-rule", stored)
        self.assertIn(b"DKIM-Signature:", stored)
        wait_until(lambda: self.function.events, 10)
        headers, event = self.function.events[0]
        record = event["Records"][0]
        self.assertEqual(record["eventSource"], "aws:ses")
        self.assertEqual(record["ses"]["receipt"]["action"],
                         {"type": "Lambda", "functionArn": FUNCTION, "invocationType": "RequestResponse"})
        self.assertEqual(record["ses"]["mail"]["messageId"], note["mail"]["messageId"])
        time.sleep(1)
        self.assertFalse(os.path.exists(os.path.join(self.s3_dir, "inbox", "never")))
        self.assertTrue(wait_until(lambda: not self.server.queued_ids(), 10))  # consumed once every action is done

    def test_s3_outage_is_retried_and_loses_nothing(self):
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={
            "Name": "archive", "Enabled": True,
            "Actions": [{"S3Action": {"BucketName": "inbox", "ObjectKeyPrefix": "outage/"}},
                        {"SNSAction": {"TopicArn": TOPIC}}]})
        self.s3.terminate()
        self.s3.wait(10)
        try:
            r = swaks(self.server.ports["mx"], "alice@sender.test", "inbox@example.test",
                      self.signed_message("outage"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)  # accepted: durable in the spool
            time.sleep(3)
            self.assertEqual(len(self.server.queued_ids()), 1)  # kept while S3 is down
            self.assertEqual(self.hook.notifications, [])  # later actions wait for it
        finally:
            self.start_s3()
        note = self.notifications(1, timeout=60)[0]
        key = os.path.join(self.s3_dir, "inbox", "outage", note["mail"]["messageId"] + "._S3rver_object")
        self.assertTrue(os.path.exists(key))
        self.assertTrue(wait_until(lambda: not self.server.queued_ids(), 10))
        self.assertGreaterEqual(metric(self.server.ports["http"], 'sesame_receiving_actions_total{action="S3Action",outcome="retried"}'), 1)

    def test_lambda_disposition_stops_the_rule_set(self):
        self.function.disposition = "STOP_RULE_SET"
        try:
            self.ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={
                "Name": "fn", "Enabled": True,
                "Actions": [{"LambdaAction": {"FunctionArn": FUNCTION, "InvocationType": "RequestResponse"}},
                            {"SNSAction": {"TopicArn": TOPIC}}]})
            self.ses.create_receipt_rule(RuleSetName=self.rule_set, After="fn", Rule={
                "Name": "later", "Enabled": True, "Actions": [{"SNSAction": {"TopicArn": TOPIC}}]})
            r = swaks(self.server.ports["mx"], "alice@sender.test", "inbox@example.test",
                      self.signed_message("disposition"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_until(lambda: self.function.events, 20)
            time.sleep(2)
            self.assertEqual(self.hook.notifications, [])
        finally:
            self.function.disposition = "CONTINUE"

    def test_forged_sender_fails_spf_and_dmarc(self):
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={
            "Name": "all", "Enabled": True, "Actions": [{"SNSAction": {"TopicArn": TOPIC, "Encoding": "Base64"}}]})
        path = os.path.join(self.tmp, "forged.eml")
        with open(path, "wb") as f:
            f.write(b"From: ceo@forged.test\r\nTo: inbox@example.test\r\nSubject: wire money\r\n\r\nNow.\r\n")
        r = swaks(self.server.ports["mx"], "ceo@forged.test", "inbox@example.test", path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        note = self.notifications(1)[0]
        self.assertEqual(note["receipt"]["spfVerdict"]["status"], "FAIL")
        self.assertEqual(note["receipt"]["dkimVerdict"]["status"], "GRAY")
        self.assertEqual(note["receipt"]["dmarcVerdict"]["status"], "FAIL")
        self.assertEqual(note["receipt"]["dmarcPolicy"], "quarantine")
        self.assertEqual(note["receipt"]["action"]["encoding"], "BASE64")
        self.assertIn(b"wire money", base64.b64decode(note["content"]))

    def test_recipients_filters_bounce_and_tls_policy_at_rcpt(self):
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={
            "Name": "bounce", "Enabled": True, "Recipients": ["gone@example.test"],
            "Actions": [{"BounceAction": {"SmtpReplyCode": "550", "StatusCode": "5.1.1",
                                          "Message": "This mailbox is closed", "Sender": "mailer@example.test"}}]})
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, After="bounce", Rule={
            "Name": "secure", "Enabled": True, "TlsPolicy": "Require", "Recipients": ["vault@example.test"],
            "Actions": [{"SNSAction": {"TopicArn": TOPIC}}]})
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, After="secure", Rule={
            "Name": "sub", "Enabled": True, "Recipients": [".example.test"],
            "Actions": [{"SNSAction": {"TopicArn": TOPIC}}]})
        mx = self.server.ports["mx"]
        replies = smtp_dialogue(mx, ["EHLO client.sender.test", "MAIL FROM:<a@sender.test>",
                                     "RCPT TO:<gone@example.test>", "RCPT TO:<vault@example.test>",
                                     "RCPT TO:<nobody@example.test>", "RCPT TO:<x@eu.example.test>",
                                     "RCPT TO:<x@unverified.test>", "QUIT"])
        rcpt = [r for r in replies if r[:3] in ("250", "550", "530", "554")][-5:]
        self.assertTrue(rcpt[0].startswith("550 5.1.1 This mailbox is closed"), replies)
        self.assertTrue(rcpt[1].startswith("530 5.7.0"), replies)
        self.assertTrue(rcpt[2].startswith("550 5.1.1 Mailbox does not exist"), replies)
        self.assertTrue(rcpt[3].startswith("250"), replies)  # ".example.test" takes subdomains
        self.assertTrue(rcpt[4].startswith("550 5.7.1 Relaying denied"), replies)
        # A receipt filter refuses the client at connect; an Allow filter wins.
        self.ses.create_receipt_filter(Filter={"Name": "block-loopback",
                                               "IpFilter": {"Policy": "Block", "Cidr": "127.0.0.0/8"}})
        greeting = smtp_dialogue(mx, [])[0]
        self.assertTrue(greeting.startswith("554 5.7.1"), greeting)
        self.assertEqual([f["Name"] for f in self.ses.list_receipt_filters()["Filters"]], ["block-loopback"])
        self.ses.create_receipt_filter(Filter={"Name": "allow-me",
                                               "IpFilter": {"Policy": "Allow", "Cidr": "127.0.0.1/32"}})
        self.assertTrue(smtp_dialogue(mx, [])[0].startswith("220"))

    def test_scan_verdicts_from_spamd_and_clamd(self):
        if not self.scanners.ready:
            self.skipTest("spamd or clamd did not start: " + self.scanners.why)
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={
            "Name": "scan", "Enabled": True, "ScanEnabled": True,
            "Actions": [{"SNSAction": {"TopicArn": TOPIC}}]})
        attachment = base64.b64encode(EICAR).decode()
        virus = ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n").encode()
        body = ("--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b1\r\n"
                "Content-Type: application/octet-stream; name=eicar.com\r\n"
                "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=eicar.com\r\n\r\n"
                f"{attachment}\r\n--b1--\r\n")
        for subject, body_text, extra in (("clean", "Just a normal note about lunch.\r\n", b""),
                                          ("virus", body, virus),
                                          ("spam", GTUBE + "\r\n", b"")):
            r = swaks(self.server.ports["mx"], "alice@sender.test", "inbox@example.test",
                      self.signed_message(subject, body=body_text, extra=extra))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        notes = {n["mail"]["commonHeaders"]["subject"]: n["receipt"] for n in self.notifications(3, timeout=90)}
        self.assertEqual(notes["clean"]["virusVerdict"]["status"], "PASS")
        self.assertEqual(notes["virus"]["virusVerdict"]["status"], "FAIL")
        self.assertEqual(notes["spam"]["spamVerdict"]["status"], "FAIL")
        self.assertEqual(notes["spam"]["virusVerdict"]["status"], "PASS")
        self.assertNotEqual(notes["clean"]["spamVerdict"]["status"], "FAIL")

    def test_send_bounce_for_a_received_message(self):
        self.ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={
            "Name": "all", "Enabled": True, "Actions": [{"SNSAction": {"TopicArn": TOPIC}}]})
        r = swaks(self.server.ports["mx"], "alice@sender.test", "inbox@example.test",
                  self.signed_message("to-bounce"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        received = self.notifications(1)[0]["mail"]["messageId"]
        out = self.ses.send_bounce(
            OriginalMessageId=received, BounceSender="mailer@example.test",
            Explanation="This address no longer takes mail.",
            MessageDsn={"ReportingMta": "dns; mx.example.test"},
            BouncedRecipientInfoList=[{"Recipient": "inbox@example.test", "BounceType": "DoesNotExist"}])
        dsn = self.server.body_of(out["MessageId"]).decode()
        self.assertIn("From: mailer@example.test", dsn)
        self.assertIn("To: <alice@sender.test>", dsn)
        self.assertIn("This address no longer takes mail.", dsn)
        self.assertIn("Reporting-MTA: dns; mx.example.test", dsn)
        self.assertIn("Final-Recipient: rfc822; inbox@example.test\r\nAction: failed\r\nStatus: 5.1.1", dsn)
        self.assertIn("Subject: to-bounce", dsn)  # the original's headers are returned
        bounce = lambda **kw: aws_error_code(self.ses.send_bounce, **{
            "OriginalMessageId": received, "BounceSender": "mailer@example.test",
            "BouncedRecipientInfoList": [{"Recipient": "inbox@example.test", "BounceType": "DoesNotExist"}],
            **kw})
        self.assertEqual(bounce(OriginalMessageId="0100000000000000-00000000-0000-0000-0000-000000000000-000000"),
                         "MessageRejected")
        self.assertEqual(bounce(BounceSender="someone@unverified.test"), "MessageRejected")
        self.assertEqual(bounce(BouncedRecipientInfoList=[{"Recipient": "other@example.test",
                                                           "BounceType": "DoesNotExist"}]), "InvalidParameterValue")
        self.assertEqual(bounce(BouncedRecipientInfoList=[{"Recipient": "inbox@example.test",
                                                           "RecipientDsnFields": {
                                                               "Action": "failed", "Status": "5.1.1",
                                                               "DiagnosticCode": "smtp; 550\r\nBcc: x@y.z"}}]),
                         "InvalidParameterValue")
        self.assertEqual(bounce(BouncedRecipientInfoList=[{"Recipient": "inbox@example.test",
                                                           "BounceType": "Sideways"}]), "InvalidParameterValue")

    def test_rule_api_errors(self):
        ses = self.ses
        err = lambda fn, **kw: aws_error_code(fn, **kw)
        self.assertEqual(err(ses.describe_receipt_rule_set, RuleSetName="nope"), "RuleSetDoesNotExist")
        self.assertEqual(err(ses.create_receipt_rule_set, RuleSetName=self.rule_set), "AlreadyExists")
        self.assertEqual(err(ses.delete_receipt_rule_set, RuleSetName=self.rule_set), "CannotDelete")
        self.assertEqual(err(ses.describe_receipt_rule, RuleSetName=self.rule_set, RuleName="x"),
                         "RuleDoesNotExist")
        self.assertEqual(err(ses.create_receipt_rule, RuleSetName=self.rule_set, Rule={
            "Name": "t", "Actions": [{"SNSAction": {"TopicArn": "arn:aws:sns:us-east-1:0:missing"}}]}),
            "InvalidSnsTopic")
        self.assertEqual(err(ses.create_receipt_rule, RuleSetName=self.rule_set, Rule={
            "Name": "t", "Actions": [{"LambdaAction": {"FunctionArn": "arn:aws:lambda:us-east-1:0:function:x"}}]}),
            "InvalidLambdaFunction")
        self.assertEqual(err(ses.create_receipt_rule, RuleSetName=self.rule_set, Rule={"Name": "bad name!"}),
                         "InvalidParameterValue")
        self.assertEqual(err(ses.create_receipt_rule, RuleSetName=self.rule_set, After="ghost",
                             Rule={"Name": "t"}), "RuleDoesNotExist")
        ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={"Name": "a"})
        ses.create_receipt_rule(RuleSetName=self.rule_set, Rule={"Name": "b"}, After="a")
        self.assertEqual(err(ses.create_receipt_rule, RuleSetName=self.rule_set, Rule={"Name": "a"}),
                         "AlreadyExists")
        ses.reorder_receipt_rule_set(RuleSetName=self.rule_set, RuleNames=["b", "a"])
        names = lambda: [r["Name"] for r in ses.describe_receipt_rule_set(RuleSetName=self.rule_set)["Rules"]]
        self.assertEqual(names(), ["b", "a"])
        ses.set_receipt_rule_position(RuleSetName=self.rule_set, RuleName="b", After="a")
        self.assertEqual(names(), ["a", "b"])
        ses.update_receipt_rule(RuleSetName=self.rule_set, Rule={"Name": "a", "Enabled": True, "ScanEnabled": True})
        rule = ses.describe_receipt_rule(RuleSetName=self.rule_set, RuleName="a")["Rule"]
        self.assertTrue(rule["Enabled"])
        self.assertTrue(rule["ScanEnabled"])
        self.assertEqual(rule["TlsPolicy"], "Optional")
        ses.clone_receipt_rule_set(RuleSetName="copy-" + self.rule_set, OriginalRuleSetName=self.rule_set)
        listed = {s["Name"] for s in ses.list_receipt_rule_sets()["RuleSets"]}
        self.assertIn("copy-" + self.rule_set, listed)
        self.assertEqual([r["Name"] for r in ses.describe_receipt_rule_set(
            RuleSetName="copy-" + self.rule_set)["Rules"]], ["a", "b"])
        ses.delete_receipt_rule_set(RuleSetName="copy-" + self.rule_set)
        ses.delete_receipt_rule(RuleSetName=self.rule_set, RuleName="a")
        self.assertEqual(names(), ["b"])
        self.assertEqual(err(ses.create_receipt_filter, Filter={
            "Name": "f", "IpFilter": {"Policy": "Block", "Cidr": "300.1.1.1/8"}}), "InvalidParameterValue")



def _connects(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Scanners:
    """spamd and clamd in a temporary directory. clamd gets its own one-line
    signature database (the EICAR file's MD5 and size, ClamAV's .hdb format):
    no signatures can be downloaded here."""

    def __init__(self, tmp):
        import hashlib
        self.procs = []
        self.ready = False
        self.why = ""
        self.spamd_address = ""
        self.clamd_address = ""
        spamd, clamd = shutil.which("spamd") or "/usr/sbin/spamd", shutil.which("clamd") or "/usr/sbin/clamd"
        if not (os.path.exists(spamd) and os.path.exists(clamd)):
            self.why = "spamassassin/clamav-daemon not installed"
            return
        db = os.path.join(tmp, "clamdb")
        os.makedirs(db, exist_ok=True)
        with open(os.path.join(db, "eicar.hdb"), "w") as f:
            f.write(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Sesame-Test-EICAR\n")
        sock = os.path.join(tmp, "clamd.sock")
        conf = os.path.join(tmp, "clamd.conf")
        with open(conf, "w") as f:
            f.write(f"LocalSocket {sock}\nDatabaseDirectory {db}\nForeground yes\nLogFile {tmp}/clamd.log\n"
                    f"PidFile {tmp}/clamd.pid\nTemporaryDirectory {tmp}\nScanMail yes\n")
        os.chmod(tmp, 0o755)
        self.procs.append(subprocess.Popen([clamd, "-c", conf], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        port = free_port()
        self.procs.append(subprocess.Popen([spamd, "--listen", f"127.0.0.1:{port}", "--max-children", "1",
                                            "-x", "--syslog=stderr", "--pidfile", f"{tmp}/spamd.pid",
                                            "--allowed-ips=127.0.0.1", "--username=nobody"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.clamd_address = sock
        self.spamd_address = f"127.0.0.1:{port}"
        ok = wait_until(lambda: os.path.exists(sock) and _connects(port), timeout=90, interval=0.5)
        self.ready = bool(ok)
        if not self.ready:
            self.why = "spamd or clamd did not come up within 90 s"

    def stop(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    unittest.main()
