"""One admission path: every refusal holds alike for SMTP submission and the
SES API, from one table of conditions (src/admission/admission.h gives the
order of the checks). Refused sends leave the quota's SentLast24Hours as it
was, and so does a send whose spool commit fails (a full tmpfs, when mount
namespaces are available)."""
import json
import os
import re
import smtplib
import subprocess
import unittest
import urllib.request

from harness import BINARY, Sesame, can_mount, private_tmpfs, smtp_password, wait_until

try:
    import boto3
    import botocore
    from botocore.config import Config
except ImportError:  # pragma: no cover
    boto3 = None

PARTNER = "123456789012"
SENDER = "app@sender.example"
RCPT = "rcpt@dest.example"


def message(sender, rcpts, config_set=None, size=0):
    headers = [f"From: {sender}", f"To: {', '.join(rcpts)}", "Subject: parity"]
    if config_set:
        headers.append(f"X-SES-CONFIGURATION-SET: {config_set}")
    body = "parity body\r\n" + ("x" * 998 + "\r\n") * (size // 1000)
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


class Node:
    """One server with an owner key, a partner key and a verified sender."""

    def __init__(self, extra):
        self.server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true" + extra + "}\n"
                                      "quotas: {max_24_hour_send: 40}\n").start()
        self.endpoint = f"http://127.0.0.1:{self.server.ports['http']}"
        self.owner = self.key()
        self.partner = self.key("--account", PARTNER, "--user", "app")
        self.v2 = self.client(self.owner)
        self.p2 = self.client(self.partner)
        for identity in (SENDER, RCPT):
            self.verify(identity)

    def key(self, *extra):
        out = subprocess.run([BINARY, "keys", "create", "--json", "--config", self.server.config_path, *extra],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def client(self, k):
        return boto3.client("sesv2", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"],
                            config=Config(retries={"mode": "standard", "max_attempts": 1}))

    def verify(self, address):
        self.v2.create_email_identity(EmailIdentity=address)
        found = []

        def poll():
            with urllib.request.urlopen(f"{self.endpoint}/_aws/ses", timeout=5) as r:
                found[:] = [m for m in json.loads(r.read())["messages"]
                            if m["Destination"]["ToAddresses"] == [address]]
            return bool(found)
        assert wait_until(poll, 10), f"no verification mail for {address}"
        link = re.search(r"(http://\S+/verify-email\?\S+)", found[0]["Body"]["text_part"]).group(1)
        urllib.request.urlopen(link, timeout=5).read()

    def sent_last_24h(self):
        return self.v2.get_account()["SendQuota"]["SentLast24Hours"]

    def send_api(self, key, sender, rcpts, config_set=None, size=0):
        """(status, error code) of a v2 SendEmail with raw content."""
        client = self.p2 if key == "partner" else self.v2
        args = dict(FromEmailAddress=sender, Destination={"ToAddresses": rcpts},
                    Content={"Raw": {"Data": message(sender, rcpts, size=size)}})
        if config_set:
            args["ConfigurationSetName"] = config_set
        try:
            out = client.send_email(**args)
            return 200, out["MessageId"]
        except botocore.exceptions.ClientError as e:
            return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]

    def send_smtp(self, key, sender, rcpts, config_set=None, size=0):
        """(reply code, reply text) of the end of DATA."""
        k = self.partner if key == "partner" else self.owner
        with smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=20) as s:
            s.starttls(context=__import__("ssl")._create_unverified_context())
            s.login(k["AccessKeyId"], smtp_password(k["SecretAccessKey"]))
            try:
                s.sendmail(sender, rcpts, message(sender, rcpts, config_set, size))
                return 250, ""
            except smtplib.SMTPDataError as e:
                return e.smtp_code, e.smtp_error.decode()
            except smtplib.SMTPRecipientsRefused as e:
                code, text = list(e.recipients.values())[0]
                return code, text.decode()


# (name, server, setup(node), send kwargs, API (status, code), SMTP (code, enhanced status))
CASES = [
    ("account paused", "production",
     lambda n: n.v2.put_account_sending_attributes(SendingEnabled=False),
     {}, (400, "SendingPausedException"), (554, "5.7.1")),
    ("configuration set paused", "production",
     lambda n: (n.v2.create_configuration_set(ConfigurationSetName="held"),
                n.v2.put_configuration_set_sending_options(ConfigurationSetName="held", SendingEnabled=False)),
     {"config_set": "held"}, (400, "SendingPausedException"), (554, "5.7.1")),
    ("unverified sender in production", "production", None,
     {"sender": "someone@unverified.example"}, (400, "MessageRejected"), (554, "5.7.1")),
    ("sandbox, unverified recipient", "sandbox", None,
     {"rcpts": ["stranger@dest.example"]}, (400, "MessageRejected"), (554, "5.7.1")),
    ("sending authorization denied", "production",
     lambda n: n.v2.create_email_identity_policy(
         EmailIdentity=SENDER, PolicyName="deny",
         Policy=json.dumps({"Version": "2012-10-17", "Statement": [
             {"Effect": "Deny", "Principal": {"AWS": [PARTNER]}, "Action": ["ses:*"],
              "Resource": f"arn:aws:ses:us-east-1:000000000000:identity/{SENDER}"}]})),
     {"key": "partner"}, (403, "AccessDeniedException"), (554, "5.7.1")),
    ("quota exceeded", "production", None,
     {"rcpts": [f"r{i}@dest.example" for i in range(45)]}, (429, "TooManyRequestsException"), (454, "4.7.0")),
    ("custom MAIL FROM not verified, REJECT_MESSAGE", "production",
     lambda n: n.v2.put_email_identity_mail_from_attributes(
         EmailIdentity=SENDER, MailFromDomain="bounce.sender.example", BehaviorOnMxFailure="REJECT_MESSAGE"),
     {}, (400, "MailFromDomainNotVerifiedException"), (554, "5.7.1")),
]


def undo(node):
    """Back to a node where the default send is admitted."""
    v2 = node.v2
    v2.put_account_sending_attributes(SendingEnabled=True)
    for cs in v2.list_configuration_sets()["ConfigurationSets"]:
        v2.delete_configuration_set(ConfigurationSetName=cs)
    for name in v2.get_email_identity_policies(EmailIdentity=SENDER)["Policies"]:
        v2.delete_email_identity_policy(EmailIdentity=SENDER, PolicyName=name)
    v2.put_email_identity_mail_from_attributes(EmailIdentity=SENDER)


@unittest.skipUnless(boto3, "python3-boto3 missing")
class AdmissionParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = {"production": Node(""), "sandbox": Node(", sandbox: true")}

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes.values():
            n.server.cleanup()

    def test_every_refusal_is_the_same_for_smtp_and_the_api(self):
        for name, where, setup, kw, api_want, smtp_want in CASES:
            node = self.nodes[where]
            with self.subTest(name):
                undo(node)
                # The default send is admitted on both paths before the condition...
                self.assertEqual(node.send_api("owner", SENDER, [RCPT])[0], 200)
                self.assertEqual(node.send_smtp("owner", SENDER, [RCPT])[0], 250)
                if setup:
                    setup(node)
                before = node.sent_last_24h()
                args = dict(key=kw.get("key", "owner"), sender=kw.get("sender", SENDER),
                            rcpts=kw.get("rcpts", [RCPT]), config_set=kw.get("config_set"))
                status, code = node.send_api(**args)
                self.assertEqual((status, code), api_want)
                reply, text = node.send_smtp(**args)
                self.assertEqual((reply, text[:5]), smtp_want, text)
                # ...and a refused send takes no quota.
                self.assertEqual(node.sent_last_24h(), before)
        undo(self.nodes["production"])

    def test_suppressed_recipient_is_admitted_and_not_delivered_on_both_paths(self):
        node = self.nodes["production"]
        undo(node)
        node.v2.put_suppressed_destination(EmailAddress="gone@dest.example", Reason="BOUNCE")
        status, api_id = node.send_api("owner", SENDER, ["gone@dest.example"])
        self.assertEqual(status, 200)
        self.assertEqual(node.send_smtp("owner", SENDER, ["gone@dest.example"])[0], 250)
        outcomes = os.path.join(node.server.data_dir, "outcomes.jsonl")

        def suppressed():
            if not os.path.exists(outcomes):
                return []
            with open(outcomes) as f:
                rows = [json.loads(line) for line in f if line.strip()]
            return [r for r in rows if r.get("recipient") == "gone@dest.example"]
        self.assertTrue(wait_until(lambda: len(suppressed()) >= 2, 10), suppressed())
        rows = suppressed()
        self.assertEqual({r["outcome"] for r in rows}, {"suppressed"}, rows)
        self.assertIn(api_id, {r["messageId"] for r in rows})

    def test_read_your_writes_in_capture_mode(self):
        node = self.nodes["production"]
        undo(node)
        for _ in range(20):
            status, mid = node.send_api("owner", SENDER, [RCPT])
            self.assertEqual(status, 200)
            with urllib.request.urlopen(f"{node.endpoint}/_aws/ses?id={mid}", timeout=5) as r:
                got = json.loads(r.read())["messages"]
            self.assertEqual([m["Id"] for m in got], [mid])
            self.assertIn(b"parity body", got[0]["RawData"].encode())


@unittest.skipUnless(boto3 and can_mount(), "python3-boto3 missing, or no root for mount namespaces")
class QuotaAfterCommitFailure(unittest.TestCase):
    def test_a_failed_commit_gives_the_quota_back(self):
        server = Sesame(delivery="delivery: {mode: hold}\napi: {auto_verify: true}\n"
                                 "quotas: {max_24_hour_send: 40}\nspool: {min_free_space: 1MB}\n"
                                 "limits: {max_message_size: 20MB}\n")
        holder, ns, fs = private_tmpfs(server, "40m")
        try:
            server.start()
            key = json.loads(subprocess.run(ns + [BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            v2 = boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{server.ports['http']}",
                              region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"],
                              config=Config(retries={"mode": "standard", "max_attempts": 1}))
            # Leave 4 MB: the spool still accepts, but a 6 MB message cannot be written.
            df = subprocess.run(ns + ["df", "--output=avail", "-B1", fs], capture_output=True, text=True).stdout
            fill = int(df.split()[-1]) // (1 << 20) - 4
            subprocess.run(ns + ["dd", "if=/dev/zero", f"of={fs}/filler", "bs=1M", f"count={fill}"],
                           capture_output=True, check=True)
            before = v2.get_account()["SendQuota"]["SentLast24Hours"]
            raw = message(SENDER, [RCPT], size=6 << 20)
            # SMTP first: the spool accepts at MAIL, the 6 MB commit fails (4xx
            # after DATA)...
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
                s.ehlo()
                s.starttls(context=__import__("ssl")._create_unverified_context())
                s.login("app", "app-secret")
                with self.assertRaises(smtplib.SMTPDataError) as sm:
                    s.sendmail(SENDER, [RCPT], raw)
                self.assertEqual(sm.exception.smtp_code // 100, 4, sm.exception)
            self.assertEqual(v2.get_account()["SendQuota"]["SentLast24Hours"], before)
            # ...then the API (a failed commit, or the spool now refusing): 503.
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                v2.send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": [RCPT]},
                              Content={"Raw": {"Data": raw}})
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 503)
            self.assertEqual(v2.get_account()["SendQuota"]["SentLast24Hours"], before)
            # Space returns: the same send is admitted and counted.
            subprocess.run(ns + ["rm", f"{fs}/filler"], check=True)
            self.assertTrue(wait_until(lambda: self.try_send(v2), 10))
            self.assertEqual(v2.get_account()["SendQuota"]["SentLast24Hours"], before + 1)
        finally:
            server.cleanup()
            holder.kill()
            holder.wait()

    @staticmethod
    def try_send(v2):
        try:
            v2.send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": [RCPT]},
                          Content={"Raw": {"Data": message(SENDER, [RCPT])}})
            return True
        except botocore.exceptions.ClientError:
            return False


if __name__ == "__main__":
    unittest.main()
