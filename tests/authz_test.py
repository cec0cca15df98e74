"""SES sending authorization end to end: identity policies managed through the
v1 and v2 APIs (boto3), and keys of another account that may send only as
those policies allow, over both APIs and SMTP."""
import json
import smtplib
import subprocess
import unittest
import urllib.request

from harness import BINARY, Sesame, smtp_password, tls_client_context, wait_until

try:
    import boto3
    import botocore
    from botocore.config import Config
except ImportError:  # pragma: no cover
    boto3 = None

OWNER = "000000000000"
PARTNER = "123456789012"
ARN = f"arn:aws:ses:us-east-1:{OWNER}:identity/example.com"


def policy(actions, condition=None, principal=PARTNER, effect="Allow", resource=ARN):
    st = {"Sid": "s", "Effect": effect, "Principal": {"AWS": [principal]}, "Action": actions,
          "Resource": resource}
    if condition:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


@unittest.skipUnless(boto3, "python3-boto3 missing")
class SendingAuthorization(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true, auto_verify: true}\n").start()
        cls.endpoint = f"http://127.0.0.1:{cls.server.ports['http']}"

        def key(*extra):
            out = subprocess.run([BINARY, "keys", "create", "--json", "--config", cls.server.config_path, *extra],
                                 capture_output=True, text=True, check=True)
            return json.loads(out.stdout)
        cls.owner_key = key()
        cls.partner_key = key("--account", PARTNER, "--user", "app")

        def clients(k):
            kw = dict(endpoint_url=cls.endpoint, region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
                      aws_secret_access_key=k["SecretAccessKey"],
                      config=Config(retries={"mode": "standard", "max_attempts": 1}))
            return boto3.client("sesv2", **kw), boto3.client("ses", **kw)
        cls.v2, cls.v1 = clients(cls.owner_key)
        cls.p2, cls.p1 = clients(cls.partner_key)
        cls.v2.create_email_identity(EmailIdentity="example.com")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        for name in self.v2.get_email_identity_policies(EmailIdentity="example.com")["Policies"]:
            self.v2.delete_email_identity_policy(EmailIdentity="example.com", PolicyName=name)

    def captured(self, message_id):
        found = []

        def poll():
            with urllib.request.urlopen(f"{self.endpoint}/_aws/ses?id={message_id}", timeout=5) as r:
                found[:] = json.loads(r.read())["messages"]
            return bool(found)
        self.assertTrue(wait_until(poll, 10), f"{message_id} never captured")
        return found[0]

    def partner_send(self, sender, **extra):
        return self.p2.send_email(FromEmailAddress=sender, Destination={"ToAddresses": ["to@example.org"]},
                                  Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
                                  **extra)

    def assertDenied(self, call):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            call()
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403, cm.exception.response)
        self.assertIn(f"arn:aws:iam::{PARTNER}:user/app", str(cm.exception))
        return cm.exception

    def test_keys_report_their_principal(self):
        self.assertEqual(self.partner_key["Arn"], f"arn:aws:iam::{PARTNER}:user/app")
        self.assertEqual(self.owner_key["Account"], OWNER)
        bad = subprocess.run([BINARY, "keys", "create", "--account", "12", "--config", self.server.config_path],
                             capture_output=True, text=True)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("12 digits", bad.stderr)

    def test_partner_key_may_only_send(self):
        self.assertDenied(lambda: self.p2.list_email_identities())
        self.assertDenied(lambda: self.p2.create_email_identity(EmailIdentity="partner.example"))
        self.assertDenied(lambda: self.p1.list_identities())
        self.assertDenied(lambda: self.p2.create_email_identity_policy(
            EmailIdentity="example.com", PolicyName="mine", Policy=policy(["ses:Send*"])))

    def test_v2_policy_grants_and_conditions(self):
        self.assertDenied(lambda: self.partner_send("marketing@example.com"))
        self.v2.create_email_identity_policy(
            EmailIdentity="example.com", PolicyName="marketer",
            Policy=policy(["ses:SendEmail"], {"StringLike": {"ses:FromAddress": "marketing*@example.com"}}))
        with self.assertRaises(self.v2.exceptions.AlreadyExistsException):
            self.v2.create_email_identity_policy(EmailIdentity="example.com", PolicyName="marketer",
                                                 Policy=policy(["ses:SendEmail"]))
        got = self.v2.get_email_identity_policies(EmailIdentity="example.com")["Policies"]
        self.assertEqual(json.loads(got["marketer"])["Statement"][0]["Principal"], {"AWS": [PARTNER]})
        self.assertIn("marketer", self.v2.get_email_identity(EmailIdentity="example.com")["Policies"])
        # Allowed: the named account, action and a matching From address.
        mid = self.partner_send("Marketing <marketing+dec@example.com>")["MessageId"]
        self.assertIn("From: Marketing <marketing+dec@example.com>", self.captured(mid)["RawData"])
        mid = self.partner_send("marketing@example.com", FromEmailAddressIdentityArn=ARN)["MessageId"]
        self.captured(mid)
        # Refused: another From address, another action, an ARN the From does not belong to.
        self.assertDenied(lambda: self.partner_send("ceo@example.com"))
        raw = b"From: marketing@example.com\r\nTo: to@example.org\r\nSubject: r\r\n\r\nraw\r\n"
        self.assertDenied(lambda: self.p2.send_email(Content={"Raw": {"Data": raw}}))
        with self.assertRaises(self.p2.exceptions.MessageRejected):
            self.partner_send("marketing@other.example", FromEmailAddressIdentityArn=ARN)
        # An explicit Deny wins over the Allow.
        self.v2.create_email_identity_policy(
            EmailIdentity="example.com", PolicyName="no-partner-dot-com",
            Policy=policy(["ses:Send*"], {"ForAnyValue:StringLike": {"ses:Recipients": "*@example.org"}},
                          principal="*", effect="Deny"))
        self.assertDenied(lambda: self.partner_send("marketing@example.com"))
        # Updating and deleting take effect at once.
        self.v2.delete_email_identity_policy(EmailIdentity="example.com", PolicyName="no-partner-dot-com")
        self.v2.update_email_identity_policy(EmailIdentity="example.com", PolicyName="marketer",
                                             Policy=policy(["ses:SendRawEmail"]))
        self.assertDenied(lambda: self.partner_send("marketing@example.com"))
        self.p2.send_email(Content={"Raw": {"Data": raw}})

    def test_invalid_policies_are_refused_with_the_reason(self):
        cases = {
            "not json": "{",
            "another identity": policy(["ses:SendEmail"],
                                       resource=f"arn:aws:ses:us-east-1:{OWNER}:identity/other.com"),
            "not a sending action": policy(["ses:DeleteIdentity"]),
        }
        for why, doc in cases.items():
            with self.subTest(why=why), self.assertRaises(self.v2.exceptions.BadRequestException) as cm:
                self.v2.create_email_identity_policy(EmailIdentity="example.com", PolicyName="bad", Policy=doc)
        self.assertIn("not a sending action", str(cm.exception))
        with self.assertRaises(self.v2.exceptions.NotFoundException):
            self.v2.create_email_identity_policy(EmailIdentity="nope.example", PolicyName="p",
                                                 Policy=policy(["ses:SendEmail"]))
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.v1.put_identity_policy(Identity="example.com", PolicyName="bad", Policy=policy(["ses:ListIdentities"]))
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidPolicy")

    def test_v1_policies_and_source_arn(self):
        raw = b"From: Partner <news@example.com>\r\nTo: to@example.org\r\nSubject: v1\r\n\r\nv1 raw\r\n"
        self.assertDenied(lambda: self.p1.send_raw_email(RawMessage={"Data": raw}, FromArn=ARN))
        self.v1.put_identity_policy(Identity="example.com", PolicyName="v1only",
                                    Policy=policy(["ses:SendRawEmail", "ses:SendEmail"],
                                                  {"StringEquals": {"ses:ApiVersion": "1"}}))
        self.assertEqual(self.v1.list_identity_policies(Identity="example.com")["PolicyNames"], ["v1only"])
        got = self.v1.get_identity_policies(Identity="example.com", PolicyNames=["v1only", "absent"])["Policies"]
        self.assertEqual(list(got), ["v1only"])
        mid = self.p1.send_raw_email(RawMessage={"Data": raw}, FromArn=ARN)["MessageId"]
        self.assertIn("v1 raw", self.captured(mid)["RawData"])
        mid = self.p1.send_email(Source="news@example.com", SourceArn=ARN, Destination={"ToAddresses": ["a@example.org"]},
                                 Message={"Subject": {"Data": "v1"}, "Body": {"Text": {"Data": "simple"}}})["MessageId"]
        self.captured(mid)
        # The same grant does not cover API v2 (ses:ApiVersion is "2" there).
        self.assertDenied(lambda: self.partner_send("news@example.com"))
        self.v1.delete_identity_policy(Identity="example.com", PolicyName="v1only")
        self.assertEqual(self.v1.list_identity_policies(Identity="example.com")["PolicyNames"], [])
        self.assertDenied(lambda: self.p1.send_raw_email(RawMessage={"Data": raw}))

    def test_smtp_needs_send_raw_email(self):
        def submit():
            c = smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=10)
            c.starttls(context=tls_client_context())
            c.login(self.partner_key["AccessKeyId"], smtp_password(self.partner_key["SecretAccessKey"]))
            try:
                c.sendmail("news@example.com", ["to@example.org"],
                           b"From: news@example.com\r\nTo: to@example.org\r\nSubject: smtp\r\n\r\nvia smtp\r\n")
            finally:
                c.quit()
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            submit()
        self.assertEqual(cm.exception.smtp_code, 554)
        self.assertIn(b"not authorized", cm.exception.smtp_error)
        self.v2.create_email_identity_policy(EmailIdentity="example.com", PolicyName="smtp",
                                             Policy=policy(["ses:SendRawEmail"]))
        submit()
        # The owner's own keys need no policy.
        c = smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=10)
        c.starttls(context=tls_client_context())
        c.login(self.owner_key["AccessKeyId"], smtp_password(self.owner_key["SecretAccessKey"]))
        c.sendmail("ceo@example.com", ["to@example.org"], b"From: ceo@example.com\r\nSubject: o\r\n\r\nowner\r\n")
        c.quit()


if __name__ == "__main__":
    unittest.main()
