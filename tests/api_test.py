"""End-to-end tests of the SES APIs with real AWS clients (boto3, the AWS CLI)
against build/sesame on loopback; what arrived is parsed back with Python's
email package."""
import base64
import email
import email.policy
import json
import os
import smtplib
import subprocess
import unittest
import urllib.request

from harness import BINARY, Sesame, tls_client_context, wait_until

try:
    import boto3
    import botocore
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    boto3 = None

AWS = "/usr/bin/aws"


@unittest.skipUnless(boto3, "python3-boto3 missing")
class SesApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true, auto_verify: true}\n").start()
        out = subprocess.run([BINARY, "keys", "create", "--json", "--config", cls.server.config_path],
                             capture_output=True, text=True, check=True)
        cls.key = json.loads(out.stdout)
        cls.endpoint = f"http://127.0.0.1:{cls.server.ports['http']}"
        cfg = Config(retries={"mode": "standard", "max_attempts": 1})
        kw = dict(endpoint_url=cls.endpoint, region_name="us-east-1", aws_access_key_id=cls.key["AccessKeyId"],
                  aws_secret_access_key=cls.key["SecretAccessKey"], config=cfg)
        cls.v2 = boto3.client("sesv2", **kw)
        cls.v1 = boto3.client("ses", **kw)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def captured(self, message_id):
        url = f"{self.endpoint}/_aws/ses?id={message_id}"
        found = []

        def poll():
            with urllib.request.urlopen(url, timeout=5) as r:
                found[:] = json.loads(r.read())["messages"]
            return bool(found)

        self.assertTrue(wait_until(poll, 10), f"{message_id} never captured")
        m = found[0]
        return m, email.message_from_string(m["RawData"], policy=email.policy.default)

    # --- keys ------------------------------------------------------------------
    def test_keys_are_sealed_and_listed(self):
        self.assertRegex(self.key["AccessKeyId"], r"^AKIA[A-Z2-7]{16}$")
        self.assertEqual(len(self.key["SecretAccessKey"]), 40)
        out = subprocess.run([BINARY, "keys", "list", "--json", "--config", self.server.config_path],
                             capture_output=True, text=True, check=True)
        self.assertIn(self.key["AccessKeyId"], [k["AccessKeyId"] for k in json.loads(out.stdout)])
        secret = self.key["SecretAccessKey"].encode()
        for root, _, files in os.walk(self.server.data_dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(secret, f.read(), f"secret readable in {name}")

    # --- v2 --------------------------------------------------------------------
    def test_v2_simple_arrives_intact(self):
        r = self.v2.send_email(
            FromEmailAddress="Zoë Sender <sender@example.com>",
            Destination={"ToAddresses": ["to@example.org"], "CcAddresses": ["cc@example.org"],
                         "BccAddresses": ["bcc@example.org"]},
            ReplyToAddresses=["reply@example.com"],
            Content={"Simple": {
                "Subject": {"Data": "Grüße — unicode subject"},
                "Body": {"Text": {"Data": "Plain body ünïcode"}, "Html": {"Data": "<p>HTML</p>"}}}})
        mid = r["MessageId"]
        self.assertRegex(mid, r"^01[0-9a-f]{14}-[0-9a-f-]{36}-000000$")
        m, msg = self.captured(mid)
        self.assertEqual(sorted(m["Destination"]["ToAddresses"]), ["bcc@example.org", "cc@example.org", "to@example.org"])
        self.assertEqual(str(msg["Subject"]), "Grüße — unicode subject")
        self.assertEqual(msg["From"].addresses[0].display_name, "Zoë Sender")
        self.assertEqual(msg["To"], "to@example.org")
        self.assertEqual(msg["Cc"], "cc@example.org")
        self.assertIsNone(msg["Bcc"])
        self.assertEqual(msg["Reply-To"], "reply@example.com")
        # A self-hosted sender's Message-ID is its own (api.message_id_domain, default the hostname).
        self.assertEqual(msg["Message-ID"], f"<{mid}@mx.sesame.test>")
        self.assertIsNotNone(msg["Date"])
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        self.assertEqual(msg.get_body(("plain",)).get_content().strip(), "Plain body ünïcode")
        self.assertIn("HTML", msg.get_body(("html",)).get_content())
        self.assertEqual(m["Body"]["text_part"].strip(), "Plain body ünïcode")

    def test_v2_headers_and_attachments(self):
        # This botocore predates Simple.Headers/Attachments; the request is signed by hand.
        pdf = b"%PDF-1.4 binary \x00\x01\xff"
        body = json.dumps({
            "FromEmailAddress": "att@example.com", "Destination": {"ToAddresses": ["to@example.org"]},
            "Content": {"Simple": {
                "Subject": {"Data": "attachments"},
                "Body": {"Text": {"Data": "see attached"}, "Html": {"Data": "<p><img src='cid:logo'></p>"}},
                "Headers": [{"Name": "X-Campaign", "Value": "spring"}],
                "Attachments": [
                    {"RawContent": base64.b64encode(pdf).decode(), "FileName": "report.pdf",
                     "ContentType": "application/pdf"},
                    {"RawContent": base64.b64encode(b"PNG").decode(), "FileName": "logo.png",
                     "ContentType": "image/png", "ContentDisposition": "INLINE", "ContentId": "logo"}]}}}).encode()
        status, _, text = self.send_raw_http(self.signed("POST", "/v2/email/outbound-emails", body))
        self.assertEqual(status, 200, text)
        m, msg = self.captured(json.loads(text)["MessageId"])
        self.assertEqual(msg["X-Campaign"], "spring")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        atts = {p.get_filename(): p for p in msg.walk() if p.get_filename()}
        self.assertEqual(atts["report.pdf"].get_content(), pdf)
        self.assertEqual(atts["report.pdf"].get_content_disposition(), "attachment")
        self.assertEqual(atts["logo.png"]["Content-ID"], "<logo>")
        self.assertEqual(atts["logo.png"].get_content_disposition(), "inline")
        for line in m["RawData"].split("\r\n"):
            self.assertLessEqual(len(line.encode()), 998)

    def test_v2_raw_uses_destination_as_envelope_and_strips_bcc(self):
        raw = (b"From: Raw Sender <raw@example.com>\r\nTo: a@example.org\r\nBcc: secret@example.org\r\n"
               b"Subject: raw\r\n\r\nraw body\r\n")
        r = self.v2.send_email(Destination={"ToAddresses": ["a@example.org", "secret@example.org", "x@example.org"]},
                               Content={"Raw": {"Data": raw}})
        m, msg = self.captured(r["MessageId"])
        self.assertEqual(sorted(m["Destination"]["ToAddresses"]), ["a@example.org", "secret@example.org", "x@example.org"])
        self.assertIsNone(msg["Bcc"])
        self.assertNotIn("secret@example.org", m["RawData"])
        self.assertEqual(m["Source"], "raw@example.com")
        self.assertEqual(msg.get_content().strip(), "raw body")
        self.assertIsNotNone(msg["Message-ID"])

    def test_v2_account(self):
        a = self.v2.get_account()
        self.assertTrue(a["SendingEnabled"])
        self.assertEqual(a["EnforcementStatus"], "HEALTHY")
        self.assertIn("MaxSendRate", a["SendQuota"])

    # --- v1 --------------------------------------------------------------------
    def test_v1_send_email_send_raw_and_quota(self):
        r = self.v1.send_email(Source="v1@example.com", Destination={"ToAddresses": ["t@example.org"]},
                               Message={"Subject": {"Data": "v1 subject"},
                                        "Body": {"Text": {"Data": "v1 text"}, "Html": {"Data": "<i>v1</i>"}}})
        m, msg = self.captured(r["MessageId"])
        self.assertEqual(str(msg["Subject"]), "v1 subject")
        self.assertEqual(m["Body"]["html_part"].strip(), "<i>v1</i>")
        raw = b"From: r@example.com\r\nTo: one@example.org, Two <two@example.org>\r\nSubject: raw v1\r\n\r\nbody\r\n"
        r = self.v1.send_raw_email(RawMessage={"Data": raw})
        m, _ = self.captured(r["MessageId"])
        self.assertEqual(sorted(m["Destination"]["ToAddresses"]), ["one@example.org", "two@example.org"])
        q = self.v1.get_send_quota()
        self.assertGreaterEqual(q["SentLast24Hours"], 2)
        self.v1.verify_email_identity(EmailAddress="someone@example.com")
        token = self.v1.verify_domain_identity(Domain="example.net")["VerificationToken"]
        self.assertTrue(token)
        self.assertIn("example.net", self.v1.list_identities()["Identities"])

    # --- the AWS CLI ------------------------------------------------------------
    def aws(self, *args):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.key["AccessKeyId"],
                   AWS_SECRET_ACCESS_KEY=self.key["SecretAccessKey"], AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        out = subprocess.run([AWS, *args, "--endpoint-url", self.endpoint, "--output", "json"],
                             capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout) if out.stdout.strip() else {}

    @unittest.skipUnless(os.path.exists(AWS), "awscli missing")
    def test_aws_cli(self):
        r = self.aws("ses", "send-email", "--from", "cli@example.com", "--to", "to@example.org",
                     "--subject", "from the cli", "--text", "cli body")
        _, msg = self.captured(r["MessageId"])
        self.assertEqual(str(msg["Subject"]), "from the cli")
        raw = base64.b64encode(b"From: cli@example.com\r\nTo: raw@example.org\r\nSubject: cli raw\r\n\r\nx\r\n").decode()
        r = self.aws("ses", "send-raw-email", "--raw-message", f"Data={raw}")
        self.captured(r["MessageId"])
        self.assertIn("VerificationToken", self.aws("ses", "verify-domain-identity", "--domain", "cli.example"))
        self.assertIn("cli.example", self.aws("ses", "list-identities")["Identities"])
        self.assertIn("Max24HourSend", self.aws("ses", "get-send-quota"))
        r = self.aws("sesv2", "send-email", "--from-email-address", "cli2@example.com",
                     "--destination", "ToAddresses=v2@example.org",
                     "--content", "Simple={Subject={Data=sesv2 cli},Body={Text={Data=t}}}")
        _, msg = self.captured(r["MessageId"])
        self.assertEqual(str(msg["Subject"]), "sesv2 cli")

    # --- authentication ----------------------------------------------------------
    def signed(self, method, path, body, secret=None, date=None, content_type="application/json"):
        creds = Credentials(self.key["AccessKeyId"], secret or self.key["SecretAccessKey"])
        req = AWSRequest(method=method, url=self.endpoint + path, data=body,
                         headers={"Content-Type": content_type})
        if date:
            import datetime
            from unittest import mock
            with mock.patch("botocore.auth.datetime") as dt:
                dt.datetime.utcnow.return_value = date
                dt.datetime.now.return_value = date
                dt.timezone = datetime.timezone
                SigV4Auth(creds, "ses", "us-east-1").add_auth(req)
        else:
            SigV4Auth(creds, "ses", "us-east-1").add_auth(req)
        return req

    def send_raw_http(self, req, body_override=None):
        data = body_override if body_override is not None else req.body
        r = urllib.request.Request(req.url, data=data, method=req.method, headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def queued_count(self):
        return len(self.server.queue()[0])

    def test_auth_failures_queue_nothing(self):
        import datetime
        body = json.dumps({"FromEmailAddress": "a@example.com", "Destination": {"ToAddresses": ["b@example.org"]},
                           "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}}).encode()
        before = self.server.spool_records() if hasattr(self.server, "spool_records") else None
        status, headers, text = self.send_raw_http(self.signed("POST", "/v2/email/outbound-emails", body, secret="x" * 40))
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (403, "InvalidSignatureException"), text)
        old = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
        status, headers, text = self.send_raw_http(self.signed("POST", "/v2/email/outbound-emails", body, date=old))
        # AWS answers a stale signature with 403 (REST-JSON: InvalidSignatureException "Signature expired").
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (403, "InvalidSignatureException"), text)
        self.assertIn("Signature expired", text)
        status, headers, text = self.send_raw_http(self.signed("POST", "/v2/email/outbound-emails", body),
                                                   body_override=body.replace(b"b@example.org", b"c@example.org"))
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (403, "InvalidSignatureException"), text)
        r = urllib.request.Request(self.endpoint + "/v2/email/outbound-emails", data=body, method="POST")
        status = self.send_raw_http(AWSRequest(method="POST", url=self.endpoint + "/v2/email/outbound-emails",
                                               data=body, headers={}))[0]
        self.assertEqual(status, 403)
        bad = boto3.client("ses", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="AKIANOTAKEY",
                           aws_secret_access_key="y" * 40, config=Config(retries={"max_attempts": 1}))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            bad.get_send_quota()
        self.assertEqual(ctx.exception.response["Error"]["Code"], "InvalidClientTokenId")
        v1_wrong = boto3.client("ses", endpoint_url=self.endpoint, region_name="us-east-1",
                                aws_access_key_id=self.key["AccessKeyId"], aws_secret_access_key="z" * 40,
                                config=Config(retries={"max_attempts": 1}))
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            v1_wrong.send_email(Source="a@example.com", Destination={"ToAddresses": ["b@example.org"]},
                                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}})
        self.assertEqual(ctx.exception.response["Error"]["Code"], "SignatureDoesNotMatch")
        # Nothing from the refused requests reached the mailbox.
        with urllib.request.urlopen(self.endpoint + "/_aws/ses", timeout=5) as r:
            subjects = [m["Subject"] for m in json.loads(r.read())["messages"]]
        self.assertNotIn("s", subjects)

    # --- bad input ----------------------------------------------------------------
    def test_bad_input_gets_ses_errors_and_server_stays_up(self):
        cases = [
            (b"{not json", "BadRequestException"),
            (b"[1,2]", "BadRequestException"),
            (json.dumps({"FromEmailAddress": "a@example.com"}).encode(), "BadRequestException"),
            (json.dumps({"FromEmailAddress": "a@example.com", "Destination": {"ToAddresses": "b@example.org"},
                         "Content": {"Simple": {"Subject": {"Data": "s"}}}}).encode(), "BadRequestException"),
            (json.dumps({"FromEmailAddress": "a@example.com", "Destination": {"ToAddresses": ["b@example.org"]},
                         "Content": {"Simple": {"Subject": {"Data": "s\r\nBcc: x@evil.example"},
                                                "Body": {"Text": {"Data": "t"}}}}}).encode(), "BadRequestException"),
            (json.dumps({"FromEmailAddress": "a@example.com",
                         "Destination": {"ToAddresses": [f"r{i}@example.org" for i in range(51)]},
                         "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}}).encode(),
             "MessageRejected"),
            (json.dumps({"FromEmailAddress": "a@example.com", "Destination": {"ToAddresses": ["invalid@invalid"]},
                         "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}}).encode(),
             "BadRequestException"),
            (json.dumps({"Destination": {"ToAddresses": ["b@example.org"]},
                         "Content": {"Raw": {"Data": base64.b64encode(b"no header separator").decode()}}}).encode(),
             "MessageRejected"),
        ]
        for body, name in cases:
            status, headers, text = self.send_raw_http(self.signed("POST", "/v2/email/outbound-emails", body))
            self.assertEqual(status, 400, f"{body[:60]}: {text}")
            self.assertEqual(headers.get("x-amzn-ErrorType"), name, f"{body[:60]}: {text}")
            self.assertIn("message", json.loads(text))
        with urllib.request.urlopen(self.endpoint + "/health", timeout=5) as r:
            self.assertEqual(r.status, 200)

    def test_oversized_v1_message_is_rejected(self):
        raw = b"From: big@example.com\r\nTo: t@example.org\r\nSubject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 11000
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.v1.send_raw_email(RawMessage={"Data": raw})
        self.assertEqual(ctx.exception.response["Error"]["Code"], "MessageRejected")
        self.assertEqual(ctx.exception.response["Error"]["Message"], "Message length is more than 10485760 bytes long.")

    def test_v1_unknown_action_and_missing_action(self):
        status, _, text = self.send_raw_http(self.signed("POST", "/", b"Action=Nope&Version=2010-12-01",
                                                         content_type="application/x-www-form-urlencoded"))
        self.assertEqual(status, 400)
        self.assertIn("<Code>InvalidAction</Code>", text)
        self.assertIn("<Type>Sender</Type>", text)

    # --- SMTP with the key's SES SMTP password ------------------------------------
    def test_smtp_auth_with_ses_smtp_password(self):
        import hashlib, hmac

        def h(key, msg):
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()
        k = h(("AWS4" + self.key["SecretAccessKey"]).encode(), "11111111")
        for part in ("us-east-1", "ses", "aws4_request", "SendRawEmail"):
            k = h(k, part)
        password = base64.b64encode(b"\x04" + k).decode()
        c = smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=10)
        c.starttls(context=tls_client_context())
        c.login(self.key["AccessKeyId"], password)
        c.sendmail("smtp@example.com", ["dest@example.org"], b"Subject: via smtp\r\n\r\nhello\r\n")
        c.quit()
        c = smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=10)
        c.starttls(context=tls_client_context())
        with self.assertRaises(smtplib.SMTPAuthenticationError):
            c.login(self.key["AccessKeyId"], password[:-2] + "AA")
        c.quit()

    # --- templates, bulk, resources --------------------------------------------------
    def test_v2_templates_send_render_and_bulk(self):
        self.v2.create_email_template(TemplateName="welcome", TemplateContent={
            "Subject": "Welcome {{name}}",
            "Text": "Hi {{name}}{{#if vip}}, VIP{{/if}}. Items:{{#each items}} {{@index}}={{this}}{{/each}}",
            "Html": "<p>Hi {{name}}</p>{{{raw}}}"})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.v2.create_email_template(TemplateName="welcome", TemplateContent={"Subject": "x"})
        self.assertEqual(ctx.exception.response["Error"]["Code"], "AlreadyExistsException")
        self.assertEqual(self.v2.get_email_template(TemplateName="welcome")["TemplateContent"]["Subject"],
                         "Welcome {{name}}")
        self.assertIn("welcome", [t["TemplateName"] for t in self.v2.list_email_templates()["TemplatesMetadata"]])
        data = json.dumps({"name": "Ann <3", "vip": True, "items": ["a", "b"], "raw": "<b>bold</b>"})
        rendered = self.v2.test_render_email_template(TemplateName="welcome", TemplateData=data)["RenderedTemplate"]
        msg = email.message_from_string(rendered, policy=email.policy.default)
        self.assertEqual(str(msg["Subject"]), "Welcome Ann <3")
        self.assertEqual(msg.get_body(("plain",)).get_content().strip(), "Hi Ann <3, VIP. Items: 0=a 1=b")
        self.assertIn("<p>Hi Ann &lt;3</p><b>bold</b>", msg.get_body(("html",)).get_content())
        r = self.v2.send_email(FromEmailAddress="t@example.com", Destination={"ToAddresses": ["u@example.org"]},
                               Content={"Template": {"TemplateName": "welcome", "TemplateData": data}})
        _, msg = self.captured(r["MessageId"])
        self.assertEqual(str(msg["Subject"]), "Welcome Ann <3")
        # Missing data: accepted, nothing sent, a rendering failure recorded.
        r = self.v2.send_email(FromEmailAddress="t@example.com", Destination={"ToAddresses": ["u@example.org"]},
                               Content={"Template": {"TemplateName": "welcome", "TemplateData": "{}"}})
        failures = os.path.join(self.server.data_dir, "rendering_failures.jsonl")
        self.assertTrue(wait_until(lambda: os.path.exists(failures), 5))
        with open(failures) as f:
            rec = [json.loads(l) for l in f if r["MessageId"] in l]
        self.assertIn("Attribute 'name' is not present", rec[0]["errorMessage"])
        bulk = self.v2.send_bulk_email(
            FromEmailAddress="bulk@example.com",
            DefaultContent={"Template": {"TemplateName": "welcome",
                                         "TemplateData": json.dumps({"name": "friend", "items": [], "raw": ""})}},
            BulkEmailEntries=[
                {"Destination": {"ToAddresses": ["b1@example.org"]},
                 "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": json.dumps({"name": "One"})}}},
                {"Destination": {"ToAddresses": ["b2@example.org"]}},
                {"Destination": {"ToAddresses": ["not-an-address"]}}])
        results = bulk["BulkEmailEntryResults"]
        self.assertEqual([x["Status"] for x in results], ["SUCCESS", "SUCCESS", "INVALID_PARAMETER"])
        _, m1 = self.captured(results[0]["MessageId"])
        _, m2 = self.captured(results[1]["MessageId"])
        self.assertEqual(str(m1["Subject"]), "Welcome One")
        self.assertEqual(str(m2["Subject"]), "Welcome friend")
        v1 = self.v1.send_templated_email(Source="t1@example.com", Destination={"ToAddresses": ["v@example.org"]},
                                          Template="welcome", TemplateData=data)
        _, m3 = self.captured(v1["MessageId"])
        self.assertEqual(str(m3["Subject"]), "Welcome Ann <3")
        self.v1.create_template(Template={"TemplateName": "v1t", "SubjectPart": "S {{x}}", "TextPart": "T {{x}}"})
        self.assertEqual(self.v1.get_template(TemplateName="v1t")["Template"]["SubjectPart"], "S {{x}}")
        self.assertIn("T 1", self.v1.test_render_template(TemplateName="v1t", TemplateData='{"x":1}')["RenderedTemplate"])
        self.v2.delete_email_template(TemplateName="welcome")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.v2.get_email_template(TemplateName="welcome")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NotFoundException")

    def test_v2_identities_config_sets_suppression_pools(self):
        r = self.v2.create_email_identity(EmailIdentity="example.com")
        self.assertEqual(r["IdentityType"], "DOMAIN")
        self.v2.create_email_identity(EmailIdentity="user@example.net")
        got = self.v2.get_email_identity(EmailIdentity="user@example.net")
        self.assertEqual(got["IdentityType"], "EMAIL_ADDRESS")
        self.assertIn("DkimAttributes", got)
        names = [i["IdentityName"] for i in self.v2.list_email_identities()["EmailIdentities"]]
        self.assertIn("example.com", names)
        page = self.v2.list_email_identities(PageSize=1)
        self.assertEqual(len(page["EmailIdentities"]), 1)
        self.assertIn("NextToken", page)
        rest = self.v2.list_email_identities(PageSize=100, NextToken=page["NextToken"])
        self.assertNotIn(page["EmailIdentities"][0]["IdentityName"], [i["IdentityName"] for i in rest["EmailIdentities"]])
        self.v2.delete_email_identity(EmailIdentity="user@example.net")
        with self.assertRaises(botocore.exceptions.ClientError):
            self.v2.get_email_identity(EmailIdentity="user@example.net")

        self.v2.create_configuration_set(ConfigurationSetName="cs1", DeliveryOptions={"TlsPolicy": "REQUIRE"})
        self.assertEqual(self.v2.get_configuration_set(ConfigurationSetName="cs1")["DeliveryOptions"]["TlsPolicy"],
                         "REQUIRE")
        self.v2.put_configuration_set_sending_options(ConfigurationSetName="cs1", SendingEnabled=False)
        self.assertFalse(self.v2.get_configuration_set(ConfigurationSetName="cs1")["SendingOptions"]["SendingEnabled"])
        self.v2.create_configuration_set_event_destination(
            ConfigurationSetName="cs1", EventDestinationName="d1",
            EventDestination={"Enabled": True, "MatchingEventTypes": ["SEND", "DELIVERY"],
                              "SnsDestination": {"TopicArn": "arn:aws:sns:us-east-1:1:t"}})
        dests = self.v2.get_configuration_set_event_destinations(ConfigurationSetName="cs1")["EventDestinations"]
        self.assertEqual([(d["Name"], d["MatchingEventTypes"]) for d in dests], [("d1", ["SEND", "DELIVERY"])])
        self.v2.delete_configuration_set_event_destination(ConfigurationSetName="cs1", EventDestinationName="d1")
        self.assertIn("cs1", self.v2.list_configuration_sets()["ConfigurationSets"])
        # This botocore predates MaxDeliverySeconds: sign the request by hand.
        body = json.dumps({"ConfigurationSetName": "bad", "DeliveryOptions": {"MaxDeliverySeconds": 10}}).encode()
        status, headers, text = self.send_raw_http(self.signed("POST", "/v2/email/configuration-sets", body))
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (400, "BadRequestException"), text)
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.v2.send_email(FromEmailAddress="a@example.com", Destination={"ToAddresses": ["b@example.org"]},
                               ConfigurationSetName="nope",
                               Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NotFoundException")
        cs_args = dict(FromEmailAddress="a@example.com", Destination={"ToAddresses": ["b@example.org"]},
                       ConfigurationSetName="cs1",
                       Content={"Simple": {"Subject": {"Data": "cs"}, "Body": {"Text": {"Data": "t"}}}})
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.v2.send_email(**cs_args)  # its sending is paused
        self.assertEqual(ctx.exception.response["Error"]["Code"], "SendingPausedException")
        self.v2.put_configuration_set_sending_options(ConfigurationSetName="cs1", SendingEnabled=True)
        self.captured(self.v2.send_email(**cs_args)["MessageId"])
        self.v2.delete_configuration_set(ConfigurationSetName="cs1")

        self.v2.put_suppressed_destination(EmailAddress="Gone@Example.org", Reason="BOUNCE")
        s = self.v2.get_suppressed_destination(EmailAddress="gone@example.org")["SuppressedDestination"]
        self.assertEqual(s["Reason"], "BOUNCE")
        self.assertEqual(len(self.v2.list_suppressed_destinations()["SuppressedDestinationSummaries"]), 1)
        self.v2.delete_suppressed_destination(EmailAddress="gone@example.org")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.v2.get_suppressed_destination(EmailAddress="gone@example.org")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NotFoundException")

        self.v2.create_dedicated_ip_pool(PoolName="pool1")
        self.assertIn("pool1", self.v2.list_dedicated_ip_pools()["DedicatedIpPools"])
        self.v2.delete_dedicated_ip_pool(PoolName="pool1")

    def test_v1_config_sets_dkim_and_bulk_templated(self):
        self.v1.create_configuration_set(ConfigurationSet={"Name": "v1cs"})
        self.assertIn("v1cs", [c["Name"] for c in self.v1.list_configuration_sets()["ConfigurationSets"]])
        self.assertEqual(self.v1.describe_configuration_set(ConfigurationSetName="v1cs")["ConfigurationSet"]["Name"],
                         "v1cs")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.v1.create_configuration_set(ConfigurationSet={"Name": "v1cs"})
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ConfigurationSetAlreadyExists")
        self.v1.delete_configuration_set(ConfigurationSetName="v1cs")
        with self.assertRaises(botocore.exceptions.ClientError) as ctx:
            self.v1.describe_configuration_set(ConfigurationSetName="v1cs")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ConfigurationSetDoesNotExist")
        tokens = self.v1.verify_domain_dkim(Domain="dkim.example")["DkimTokens"]
        self.assertEqual(len(tokens), 1)  # the Easy DKIM selector of the domain key
        attrs = self.v1.get_identity_dkim_attributes(Identities=["dkim.example"])["DkimAttributes"]
        self.assertEqual(attrs["dkim.example"]["DkimTokens"], tokens)
        self.v1.create_template(Template={"TemplateName": "bulk1", "SubjectPart": "Hello {{n}}", "TextPart": "x"})
        r = self.v1.send_bulk_templated_email(
            Source="bulk1@example.com", Template="bulk1", DefaultTemplateData='{"n":"all"}',
            Destinations=[{"Destination": {"ToAddresses": ["p@example.org"]}, "ReplacementTemplateData": '{"n":"P"}'},
                          {"Destination": {"ToAddresses": ["q@example.org"]}}])
        statuses = r["Status"]
        self.assertEqual([x["Status"] for x in statuses], ["Success", "Success"])
        _, m1 = self.captured(statuses[0]["MessageId"])
        _, m2 = self.captured(statuses[1]["MessageId"])
        self.assertEqual((str(m1["Subject"]), str(m2["Subject"])), ("Hello P", "Hello all"))

    def test_v1_custom_mail_from(self):
        self.v1.verify_domain_identity(Domain="mf-v1.example")
        self.v1.set_identity_mail_from_domain(Identity="mf-v1.example", MailFromDomain="bounce.mf-v1.example",
                                              BehaviorOnMXFailure="RejectMessage")
        attrs = self.v1.get_identity_mail_from_domain_attributes(Identities=["mf-v1.example"])
        a = attrs["MailFromDomainAttributes"]["mf-v1.example"]
        self.assertEqual(a["MailFromDomain"], "bounce.mf-v1.example")
        self.assertEqual(a["BehaviorOnMXFailure"], "RejectMessage")
        self.assertEqual(a["MailFromDomainStatus"], "Pending")
        # Shared with v2: the same identity shows it.
        v2 = self.v2.get_email_identity(EmailIdentity="mf-v1.example")["MailFromAttributes"]
        self.assertEqual(v2["BehaviorOnMxFailure"], "REJECT_MESSAGE")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.v1.set_identity_mail_from_domain(Identity="mf-v1.example", MailFromDomain="bounce.elsewhere.example")
        self.assertIn("subdomain", str(cm.exception))
        self.v1.set_identity_mail_from_domain(Identity="mf-v1.example")
        a = self.v1.get_identity_mail_from_domain_attributes(Identities=["mf-v1.example"])
        self.assertEqual(a["MailFromDomainAttributes"]["mf-v1.example"].get("MailFromDomain", ""), "")

    def test_v2_account_settings_and_tags(self):
        args = dict(FromEmailAddress="p@example.com", Destination={"ToAddresses": ["q@example.org"]},
                    Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})
        self.v2.put_account_sending_attributes(SendingEnabled=False)
        try:
            self.assertFalse(self.v2.get_account()["SendingEnabled"])
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                self.v2.send_email(**args)
            self.assertEqual(ctx.exception.response["Error"]["Code"], "SendingPausedException")
        finally:
            self.v2.put_account_sending_attributes(SendingEnabled=True)
        self.v2.send_email(**args)
        self.v2.put_account_suppression_attributes(SuppressedReasons=["BOUNCE", "COMPLAINT"])
        self.assertEqual(self.v2.get_account()["SuppressionAttributes"]["SuppressedReasons"], ["BOUNCE", "COMPLAINT"])
        arn = "arn:aws:ses:us-east-1:123456789012:configuration-set/tagged"
        self.v2.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "mail"}, {"Key": "env", "Value": "test"}])
        tags = {t["Key"]: t["Value"] for t in self.v2.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        self.assertEqual(tags, {"team": "mail", "env": "test"})
        self.v2.untag_resource(ResourceArn=arn, TagKeys=["env"])
        self.assertEqual(self.v2.list_tags_for_resource(ResourceArn=arn)["Tags"], [{"Key": "team", "Value": "mail"}])

    def test_delete_aws_ses(self):
        r = self.v2.send_email(FromEmailAddress="del@example.com", Destination={"ToAddresses": ["d@example.org"]},
                               Content={"Simple": {"Subject": {"Data": "to delete"}, "Body": {"Text": {"Data": "x"}}}})
        self.captured(r["MessageId"])
        req = urllib.request.Request(f"{self.endpoint}/_aws/ses?id={r['MessageId']}", method="DELETE")
        with urllib.request.urlopen(req, timeout=5) as resp:
            self.assertEqual(resp.status, 204)
        with urllib.request.urlopen(f"{self.endpoint}/_aws/ses?id={r['MessageId']}", timeout=5) as resp:
            self.assertEqual(json.loads(resp.read())["messages"], [])


@unittest.skipUnless(boto3, "python3-boto3 missing")
class Quotas(unittest.TestCase):
    def client(self, server, service, attempts, mode="standard"):
        key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                        capture_output=True, text=True, check=True).stdout)
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{server.ports['http']}", region_name="us-east-1",
                            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            config=Config(retries={"mode": mode, "total_max_attempts": attempts}))

    def test_rate_limit_on_every_path(self):
        server = Sesame(delivery="delivery: {mode: capture}\napi: {auto_verify: true}\n"
                                 "quotas: {max_send_rate: 2}\n").start()
        try:
            args = dict(FromEmailAddress="q@example.com", Destination={"ToAddresses": ["r@example.org"]},
                        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})
            once = self.client(server, "sesv2", 1)
            errors = []
            for _ in range(6):
                try:
                    once.send_email(**args)
                except botocore.exceptions.ClientError as e:
                    errors.append((e.response["Error"]["Code"], e.response["Error"]["Message"],
                                   e.response["ResponseMetadata"]["HTTPStatusCode"]))
            self.assertTrue(errors)
            self.assertEqual(errors[0], ("TooManyRequestsException", "Maximum sending rate exceeded.", 429))
            # boto3's standard retry mode retries the throttle and gets through.
            retrying = self.client(server, "sesv2", 10)
            retried = 0
            for _ in range(6):
                r = retrying.send_email(**args)
                retried += r["ResponseMetadata"]["RetryAttempts"]
            self.assertGreater(retried, 0)
            v1 = self.client(server, "ses", 1)
            codes = set()
            for _ in range(6):
                try:
                    v1.send_email(Source="q@example.com", Destination={"ToAddresses": ["r@example.org"]},
                                  Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}})
                except botocore.exceptions.ClientError as e:
                    codes.add(e.response["Error"]["Code"])
            self.assertEqual(codes, {"Throttling"})
            from harness import RawSmtp
            s = RawSmtp(server.ports["mx"])  # MX mail is not counted against the sending quota
            s.cmd("EHLO c")
            c = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
            c.starttls(context=tls_client_context())
            c.login("app", "app-secret")
            replies = []
            for _ in range(6):
                c.mail("q@example.com")
                c.rcpt("r@example.org")
                replies.append(c.data(b"Subject: s\r\n\r\nt\r\n"))
            c.quit()
            throttled = [r for r in replies if r[0] == 454]
            self.assertTrue(throttled)
            self.assertEqual(throttled[0][1], b"4.7.0 Throttling failure: Maximum sending rate exceeded.")
        finally:
            server.cleanup()

    def test_daily_quota(self):
        server = Sesame(delivery="delivery: {mode: capture}\napi: {auto_verify: true}\n"
                                 "quotas: {max_24_hour_send: 3}\n").start()
        try:
            v2 = self.client(server, "sesv2", 1)
            v2.send_email(FromEmailAddress="q@example.com",
                          Destination={"ToAddresses": ["a@example.org", "b@example.org"]},
                          Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v2.send_email(FromEmailAddress="q@example.com",
                              Destination={"ToAddresses": ["c@example.org", "d@example.org"]},
                              Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})
            self.assertEqual(ctx.exception.response["Error"]["Message"], "Daily message quota exceeded.")
            quota = v2.get_account()["SendQuota"]
            self.assertEqual((quota["Max24HourSend"], quota["SentLast24Hours"]), (3.0, 2.0))
        finally:
            server.cleanup()


@unittest.skipUnless(boto3, "python3-boto3 missing")
class HttpsAndSimulator(unittest.TestCase):
    def test_https_listener_and_mailbox_simulator(self):
        import warnings
        server = Sesame(delivery="delivery: {mode: capture}\napi: {auto_verify: true, local_mailbox: true}\n",
                        http_tls=True).start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            endpoint = f"https://127.0.0.1:{server.ports['http']}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v2 = boto3.client("sesv2", endpoint_url=endpoint, region_name="us-east-1", verify=False,
                                  aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
                ids = {}
                for local in ("success", "bounce", "ooto", "complaint", "suppressionlist"):
                    ids[local] = v2.send_email(
                        FromEmailAddress="sim@example.com",
                        Destination={"ToAddresses": [f"{local}@simulator.amazonses.com"]},
                        Content={"Simple": {"Subject": {"Data": local}, "Body": {"Text": {"Data": "t"}}}})["MessageId"]
            from harness import read_outcomes
            self.assertTrue(wait_until(lambda: len(read_outcomes(server.data_dir)) >= 5, 10))
            by = {o["recipient"].split("@")[0]: o for o in read_outcomes(server.data_dir)
                  if o["recipient"].endswith("@simulator.amazonses.com")}
            self.assertEqual({k: v["outcome"] for k, v in by.items()},
                             {"success": "delivered", "bounce": "failed", "ooto": "delivered",
                              "complaint": "delivered", "suppressionlist": "failed"})
            self.assertTrue(by["bounce"]["smtpResponse"].startswith("550 5.1.1"))
        finally:
            server.cleanup()


@unittest.skipUnless(boto3, "python3-boto3 missing")
class VerifiedSenders(unittest.TestCase):
    def test_sandbox_requires_verified_recipients(self):
        server = Sesame(delivery="delivery: {mode: capture}\napi: {auto_verify: true, sandbox: true}\n").start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            v2 = boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{server.ports['http']}", region_name="us-east-1",
                              aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
            self.assertFalse(v2.get_account()["ProductionAccessEnabled"])
            v2.create_email_identity(EmailIdentity="verified.example")
            args = dict(FromEmailAddress="a@verified.example",
                        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v2.send_email(Destination={"ToAddresses": ["x@other.example"]}, **args)
            self.assertEqual(ctx.exception.response["Error"]["Code"], "MessageRejected")
            self.assertIn("x@other.example", ctx.exception.response["Error"]["Message"])
            v2.send_email(Destination={"ToAddresses": ["y@verified.example"]}, **args)
        finally:
            server.cleanup()

    def test_unverified_sender_is_rejected_with_ses_text(self):
        server = Sesame(delivery="delivery: {mode: capture}\napi: {auto_verify: false}\n").start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            kw = dict(endpoint_url=f"http://127.0.0.1:{server.ports['http']}", region_name="us-east-1",
                      aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
            v2 = boto3.client("sesv2", **kw)
            v1 = boto3.client("ses", **kw)
            args = dict(FromEmailAddress="who@unverified.example", Destination={"ToAddresses": ["b@example.org"]},
                        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v2.send_email(**args)
            err = ctx.exception.response["Error"]
            self.assertEqual(err["Code"], "MessageRejected")
            self.assertEqual(err["Message"], "Email address is not verified. The following identities failed the "
                                             "check in region US-EAST-1: who@unverified.example")
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v1.send_email(Source="who@unverified.example", Destination={"ToAddresses": ["b@example.org"]},
                              Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}})
            self.assertEqual(ctx.exception.response["Error"]["Code"], "MessageRejected")
            self.assertEqual(server.queue()[0], [])
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
