"""Least privilege, end to end: IAM users, groups and policies made through
boto3's iam client and the AWS CLI (unmodified, only the endpoint changed),
and every SES v1, SESv2, SNS, IAM and SMTP request of an IAM user's key
evaluated against its policies, with AWS's AccessDenied answers."""
import json
import os
import shutil
import smtplib
import socket
import subprocess
import time
import unittest

from harness import (BINARY, Sesame, aws_clients, aws_error_code, metric, smtp_password,
                     tls_client_context, wait_until)

try:
    import boto3
    import botocore.config
except ImportError:  # pragma: no cover
    boto3 = None

ACCOUNT = "000000000000"


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error(fn, **kw):
    """(HTTP status, code, message) of a failing call."""
    try:
        fn(**kw)
    except Exception as e:
        err = e.response["Error"]
        return e.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err.get("Message", "")
    raise AssertionError(f"{fn.__name__} succeeded")


@unittest.skipUnless(boto3, "python3-boto3 missing")
class Iam(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Sesame().start()
        cls.endpoint = f"http://127.0.0.1:{cls.server.ports['http']}"
        cls.iam, cls.v2, cls.v1 = aws_clients(cls.server, "iam", "sesv2", "ses")
        for domain in ("example.com", "other.com"):
            cls.v2.create_email_identity(EmailIdentity=domain)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def clients(self, key, *services):
        cfg = botocore.config.Config(retries={"max_attempts": 1})
        kw = dict(endpoint_url=self.endpoint, region_name="us-east-1", config=cfg,
                  aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        return tuple(boto3.client(s, **kw) for s in services)

    def user(self, name, *policies, groups=()):
        self.iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "ops"}])
        for i, doc in enumerate(policies):
            self.iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=doc)
        for g in groups:
            self.iam.add_user_to_group(GroupName=g, UserName=name)
        return self.iam.create_access_key(UserName=name)["AccessKey"]

    def smtp_send(self, key, sender, source=None):
        c = smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=10,
                         source_address=(source, 0) if source else None)
        try:
            c.starttls(context=tls_client_context())
            c.login(key["AccessKeyId"], smtp_password(key["SecretAccessKey"]))
            c.sendmail(sender, ["to@dest.test"], f"From: {sender}\r\nTo: to@dest.test\r\nSubject: s\r\n\r\nhi\r\n")
        finally:
            c.close()

    def assert_denied(self, fn, action, resource, code="AccessDenied", user="ci", **kw):
        status, got, message = error(fn, **kw)
        self.assertEqual((status, got), (403, code), message)
        self.assertEqual(message, f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to "
                                  f"perform: {action} on resource: {resource}")

    def test_a_ci_key_sends_only_as_its_address(self):
        key = self.user("ci", policy({
            "Effect": "Allow", "Action": "ses:SendEmail",
            "Resource": f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/example.com",
            "Condition": {"StringEquals": {"ses:FromAddress": "ci@example.com"}}}))
        v1, v2, sns, iam = self.clients(key, "ses", "sesv2", "sns", "iam")
        simple = {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}
        dest = {"ToAddresses": ["to@dest.test"]}
        v1.send_email(Source="ci@example.com", Destination=dest, Message=simple)
        v2.send_email(FromEmailAddress="ci@example.com", Destination=dest, Content={"Simple": simple})
        self.smtp_send(key, "ci@example.com")
        ident = f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/"
        self.assert_denied(v1.send_email, "ses:SendEmail", ident + "example.com",
                           Source="boss@example.com", Destination=dest, Message=simple)
        self.assert_denied(v2.send_email, "ses:SendEmail", ident + "example.com", code="AccessDeniedException",
                           FromEmailAddress="boss@example.com", Destination=dest, Content={"Simple": simple})
        self.assert_denied(v2.send_email, "ses:SendEmail", ident + "other.com", code="AccessDeniedException",
                           FromEmailAddress="ci@other.com", Destination=dest, Content={"Simple": simple})
        with self.assertRaises(smtplib.SMTPException) as ctx:
            self.smtp_send(key, "boss@example.com")
        self.assertIn("is not authorized to perform: ses:SendRawEmail", str(ctx.exception))
        self.assert_denied(v2.list_email_identities, "ses:ListEmailIdentities", "*",
                           code="AccessDeniedException")
        self.assert_denied(sns.create_topic, "sns:CreateTopic", f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
                           code="AuthorizationError", Name="t")
        self.assert_denied(iam.list_users, "iam:ListUsers", "*")
        # Denied requests are counted: the API's own, and admission's sends.
        http = self.server.ports["http"]
        self.assertGreaterEqual(metric(http, "sesame_iam_denied_total"), 3)
        self.assertGreaterEqual(metric(http, 'sesame_admission_refused_total{reason="not_authorized"}'), 4)
        self.assertIn("access denied: arn:aws:iam::000000000000:user/ci iam:ListUsers", self.server.read_log())

    def test_secure_transport_condition_sees_smtp_tls(self):
        # aws:SecureTransport: true over SMTP with STARTTLS, false over this
        # plain-HTTP API endpoint.
        key = self.user("tls-only", policy({
            "Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}))
        self.smtp_send(key, "tls@example.com")
        v2, = self.clients(key, "sesv2")
        self.assert_denied(v2.send_email, "ses:SendEmail",
                           f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/example.com",
                           code="AccessDeniedException", user="tls-only", FromEmailAddress="tls@example.com",
                           Destination={"ToAddresses": ["to@dest.test"]},
                           Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})

    def test_read_only_reads_and_changes_nothing(self):
        key = self.user("viewer", policy({"Effect": "Allow", "Action": ["ses:Get*", "ses:List*"],
                                          "Resource": "*"}))
        v1, v2 = self.clients(key, "ses", "sesv2")
        names = [i["IdentityName"] for i in v2.list_email_identities()["EmailIdentities"]]
        self.assertIn("example.com", names)
        v2.get_account()
        v2.get_email_identity(EmailIdentity="example.com")
        v1.list_identities()
        v1.get_send_quota()
        dest = {"ToAddresses": ["to@dest.test"]}
        simple = {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}
        ident = f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/"
        self.assert_denied(v2.send_email, "ses:SendEmail", ident + "example.com", code="AccessDeniedException",
                           user="viewer", FromEmailAddress="a@example.com", Destination=dest,
                           Content={"Simple": simple})
        self.assert_denied(v2.delete_email_identity, "ses:DeleteEmailIdentity", ident + "example.com",
                           code="AccessDeniedException", user="viewer", EmailIdentity="example.com")
        self.assert_denied(v2.create_email_identity, "ses:CreateEmailIdentity", "*",
                           code="AccessDeniedException", user="viewer", EmailIdentity="new.com")
        self.assert_denied(v1.verify_email_identity, "ses:VerifyEmailIdentity", ident + "x@new.com",
                           user="viewer", EmailAddress="x@new.com")
        self.assertIn("example.com", [i["IdentityName"] for i in
                                      self.v2.list_email_identities()["EmailIdentities"]])

    def test_a_group_deny_beats_a_user_allow(self):
        self.iam.create_group(GroupName="no-suppression-edits")
        self.iam.put_group_policy(GroupName="no-suppression-edits", PolicyName="deny", PolicyDocument=policy(
            {"Effect": "Deny", "Action": "ses:DeleteSuppressedDestination", "Resource": "*"}))
        managed = self.iam.create_policy(PolicyName="support", PolicyDocument=policy(
            {"Effect": "Allow", "Action": ["ses:*SuppressedDestination*"], "Resource": "*"}))["Policy"]
        key = self.user("support", groups=["no-suppression-edits"])
        self.iam.attach_user_policy(UserName="support", PolicyArn=managed["Arn"])
        (v2,) = self.clients(key, "sesv2")
        v2.put_suppressed_destination(EmailAddress="gone@dest.test", Reason="BOUNCE")
        v2.list_suppressed_destinations()
        self.assert_denied(v2.delete_suppressed_destination, "ses:DeleteSuppressedDestination", "*",
                           code="AccessDeniedException", user="support", EmailAddress="gone@dest.test")
        # Without the group, the user's own Allow stands.
        self.iam.remove_user_from_group(GroupName="no-suppression-edits", UserName="support")
        v2.delete_suppressed_destination(EmailAddress="gone@dest.test")
        sim = self.iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/support",
            ActionNames=["ses:DeleteSuppressedDestination", "ses:SendEmail"])
        self.assertEqual([r["EvalDecision"] for r in sim["EvaluationResults"]], ["allowed", "implicitDeny"])

    def test_an_inactive_key_fails_at_once_and_last_use_is_reported(self):
        key = self.user("rotating", policy({"Effect": "Allow", "Action": "ses:*", "Resource": "*"}))
        (v2,) = self.clients(key, "sesv2")
        v2.get_account()
        used = self.iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
        self.assertEqual(used["UserName"], "rotating")
        self.assertEqual(used["AccessKeyLastUsed"]["ServiceName"], "ses")
        self.assertEqual(used["AccessKeyLastUsed"]["Region"], "us-east-1")
        self.assertLess(abs(used["AccessKeyLastUsed"]["LastUsedDate"].timestamp() - time.time()), 30)
        self.smtp_send(key, "rotating@example.com")
        # The last use is written to the keys file by a clean stop.
        self.server.stop()
        self.server.start()
        used = self.iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
        self.assertEqual(used["AccessKeyLastUsed"]["ServiceName"], "ses")
        self.iam.update_access_key(UserName="rotating", AccessKeyId=key["AccessKeyId"], Status="Inactive")
        t0 = time.time()
        self.assertEqual(aws_error_code(v2.get_account), "UnrecognizedClientException")
        with self.assertRaises(smtplib.SMTPAuthenticationError):
            self.smtp_send(key, "rotating@example.com")
        self.assertLess(time.time() - t0, 1.5)
        listed = self.iam.list_access_keys(UserName="rotating")["AccessKeyMetadata"]
        self.assertEqual([(k["AccessKeyId"], k["Status"]) for k in listed], [(key["AccessKeyId"], "Inactive")])
        self.iam.update_access_key(UserName="rotating", AccessKeyId=key["AccessKeyId"], Status="Active")
        v2.get_account()

    def test_iam_errors_are_iams(self):
        self.iam.create_user(UserName="dup")
        self.assertEqual(error(self.iam.create_user, UserName="dup")[:2], (409, "EntityAlreadyExists"))
        self.assertEqual(error(self.iam.get_user, UserName="nobody")[:2], (404, "NoSuchEntity"))
        status, code, message = error(self.iam.create_policy, PolicyName="bad", PolicyDocument="{not json")
        self.assertEqual((status, code), (400, "MalformedPolicyDocument"))
        self.assertIn("Syntax errors", message)
        status, code, message = error(self.iam.put_user_policy, UserName="dup", PolicyName="p",
                                      PolicyDocument=policy({"Effect": "Allow", "Action": "ses:SendEmail"}))
        self.assertEqual(code, "MalformedPolicyDocument")
        self.assertIn("resources", message)
        self.iam.create_access_key(UserName="dup")
        self.iam.create_access_key(UserName="dup")
        self.assertEqual(error(self.iam.create_access_key, UserName="dup")[:2], (409, "LimitExceeded"))
        self.assertEqual(error(self.iam.delete_user, UserName="dup")[:2], (409, "DeleteConflict"))
        # Versions: the fifth is the last; the default moves.
        arn = self.iam.create_policy(PolicyName="versioned", PolicyDocument=policy(
            {"Effect": "Allow", "Action": "ses:GetAccount", "Resource": "*"}))["Policy"]["Arn"]
        for i in range(4):
            self.iam.create_policy_version(PolicyArn=arn, SetAsDefault=i == 3, PolicyDocument=policy(
                {"Effect": "Allow", "Action": f"ses:Get{i}", "Resource": "*"}))
        self.assertEqual(error(self.iam.create_policy_version, PolicyArn=arn, PolicyDocument=policy(
            {"Effect": "Allow", "Action": "ses:X", "Resource": "*"}))[:2], (409, "LimitExceeded"))
        self.assertEqual(self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"], "v5")
        doc = self.iam.get_policy_version(PolicyArn=arn, VersionId="v5")["PolicyVersion"]["Document"]
        self.assertEqual(doc["Statement"][0]["Action"], "ses:Get3")
        self.iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
        self.assertEqual(self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"], "v1")

    def test_the_aws_cli_manages_users(self):
        aws = "/usr/bin/aws"
        if not os.path.exists(aws):
            self.skipTest("the AWS CLI is not installed")
        key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", self.server.config_path],
                                        capture_output=True, text=True, check=True).stdout)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")

        def cli(*args):
            r = subprocess.run([aws, "--endpoint-url", self.endpoint, "--output", "json", "iam", *args],
                               capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout) if r.stdout.strip() else {}
        user = cli("create-user", "--user-name", "cli-user", "--path", "/ops/")["User"]
        self.assertEqual(user["Arn"], f"arn:aws:iam::{ACCOUNT}:user/ops/cli-user")
        cli("put-user-policy", "--user-name", "cli-user", "--policy-name", "read",
            "--policy-document", policy({"Effect": "Allow", "Action": "ses:Get*", "Resource": "*"}))
        self.assertEqual(cli("list-user-policies", "--user-name", "cli-user")["PolicyNames"], ["read"])
        got = cli("get-user-policy", "--user-name", "cli-user", "--policy-name", "read")
        self.assertEqual(got["PolicyDocument"]["Statement"][0]["Action"], "ses:Get*")
        self.assertIn("cli-user", [u["UserName"] for u in cli("list-users")["Users"]])
        cli("attach-user-policy", "--user-name", "cli-user", "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonSESReadOnlyAccess")
        attached = cli("list-attached-user-policies", "--user-name", "cli-user")["AttachedPolicies"]
        self.assertEqual([p["PolicyName"] for p in attached], ["AmazonSESReadOnlyAccess"])
        k = cli("create-access-key", "--user-name", "cli-user")["AccessKey"]
        (v2,) = self.clients(k, "sesv2")
        v2.get_account()
        self.assertEqual(aws_error_code(v2.create_email_identity, EmailIdentity="z.com"), "AccessDeniedException")

    def test_a_first_admin_is_bootstrapped_offline(self):
        def sesame(*args, ok=True):
            r = subprocess.run([BINARY, *args, "--config", self.server.config_path],
                               capture_output=True, text=True, timeout=30)
            if ok:
                self.assertEqual(r.returncode, 0, r.stderr)
            return r
        self.assertIn(f"arn:aws:iam::{ACCOUNT}:user/admin", sesame("iam", "create-user", "admin").stdout)
        self.assertNotEqual(sesame("iam", "create-user", "admin", ok=False).returncode, 0)
        sesame("iam", "attach-user-policy", "admin", "arn:aws:iam::aws:policy/AdministratorAccess")
        self.assertEqual(sesame("iam", "simulate", "admin", "iam:CreateUser").stdout.strip(), "allowed")
        self.assertNotEqual(sesame("keys", "create", "--user", "ghost", ok=False).returncode, 0)
        key = json.loads(sesame("keys", "create", "--user", "admin", "--json").stdout)
        self.assertEqual(key["Arn"], f"arn:aws:iam::{ACCOUNT}:user/admin")
        iam, v2 = self.clients(key, "iam", "sesv2")
        self.assertIn("admin", [u["UserName"] for u in iam.list_users()["Users"]])
        iam.create_user(UserName="made-by-admin")
        v2.get_account()
        # The API's changes are the CLI's to see, and the other way round.
        self.assertIn("made-by-admin", sesame("iam", "list-users").stdout)


@unittest.skipUnless(boto3, "python3-boto3 missing")
class SignatureBruteForce(unittest.TestCase):
    def setUp(self):
        self.server = Sesame().start()

    def tearDown(self):
        self.server.cleanup()

    def signed_get_account(self, key, source):
        """GetAccount signed with `key`, sent from the address `source`."""
        import http.client
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        url = f"http://127.0.0.1:{self.server.ports['http']}/v2/email/account"
        req = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "ses", "us-east-1").add_auth(req)
        c = http.client.HTTPConnection("127.0.0.1", self.server.ports["http"], timeout=10,
                                       source_address=(source, 0))
        c.request("GET", "/v2/email/account", headers=dict(req.headers))
        r = c.getresponse()
        out = (r.status, r.getheader("x-amzn-ErrorType"))
        c.close()
        return out

    def test_bad_signatures_lock_out_only_their_address(self):
        key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", self.server.config_path],
                                        capture_output=True, text=True, check=True).stdout)
        bogus = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": "wrong"}
        codes = [self.signed_get_account(bogus, "127.0.0.1") for _ in range(101)]
        self.assertEqual(codes[0], (403, "InvalidSignatureException"))
        self.assertEqual(codes[-1], (403, "AccessDeniedException"))
        # The right key is refused from the locked address, welcome from another.
        self.assertEqual(self.signed_get_account(key, "127.0.0.1"), (403, "AccessDeniedException"))
        self.assertEqual(self.signed_get_account(key, "127.0.0.9"), (200, None))
        self.assertEqual(metric(self.server.ports["http"], "sesame_api_signature_lockouts_total"), 1)
        self.assertGreaterEqual(metric(self.server.ports["http"], "sesame_api_signature_failures_total"), 100)


if __name__ == "__main__":
    unittest.main()
