"""SES API completeness (issue 15), table-driven against build/sesame with boto3:
each case names the call, its arguments and SES's exact error code (and message
where SES's text is known), or what a successful answer must contain."""
import unittest

import email
import email.policy
import json
import os
import re
import urllib.error
import urllib.request

from harness import Sesame, aws_clients, wait_until

try:
    import boto3
    import botocore.exceptions
except ImportError:  # pragma: no cover
    boto3 = None


@unittest.skipUnless(boto3, "python3-boto3 missing")
class SesV1Completeness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Identities start unverified (no auto_verify): ListVerifiedEmailAddresses
        # must tell the two apart.
        cls.server = Sesame(delivery="delivery: {mode: capture}\napi: {auto_verify: false}\n").start()
        cls.v1, cls.v2, cls.sns = aws_clients(cls.server, "ses", "sesv2", "sns")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def error(self, call, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            call(**kw)
        return cm.exception.response["Error"], cm.exception.response["ResponseMetadata"]["HTTPStatusCode"]

    def assertError(self, call, code, message=None, status=400, **kw):
        err, http = self.error(call, **kw)
        self.assertEqual((err["Code"], http), (code, status), err)
        if message is not None:
            self.assertEqual(err["Message"], message)

    # --- ListIdentities: IdentityType, MaxItems, NextToken -----------------------
    def test_list_identities_filters_by_type_and_pages(self):
        domains = [f"list{i}.example.net" for i in range(5)]
        emails = [f"u{i}@list.example.net" for i in range(4)]
        for d in domains:
            self.v1.verify_domain_identity(Domain=d)
        for e in emails:
            self.v1.verify_email_identity(EmailAddress=e)

        def walk(**kw):
            seen, token, pages = [], None, 0
            while True:
                r = self.v1.list_identities(**kw, **({"NextToken": token} if token else {}))
                self.assertLessEqual(len(r["Identities"]), kw.get("MaxItems", 1000))
                seen += r["Identities"]
                pages += 1
                token = r.get("NextToken")
                if not token:
                    return seen, pages

        got, pages = walk(IdentityType="Domain", MaxItems=2)
        self.assertEqual(sorted(d for d in got if d.startswith("list")), sorted(domains))
        self.assertFalse([g for g in got if "@" in g], "an address listed as a Domain")
        self.assertGreaterEqual(pages, 3)
        got, _ = walk(IdentityType="EmailAddress", MaxItems=3)
        self.assertEqual(sorted(g for g in got if g.endswith("@list.example.net")), sorted(emails))
        self.assertFalse([g for g in got if "@" not in g], "a domain listed as an EmailAddress")
        everything, _ = walk()
        self.assertTrue(set(domains + emails) <= set(everything))
        # Exactly MaxItems left: no NextToken pointing at an empty page.
        n = len([g for g in everything if "@" in g])
        self.assertNotIn("NextToken", self.v1.list_identities(IdentityType="EmailAddress", MaxItems=n))

    def test_list_identities_validation(self):
        for kw, code in [
            (dict(IdentityType="Mailbox"), "ValidationError"),
            (dict(MaxItems=0), "ValidationError"),
            (dict(MaxItems=1001), "ValidationError"),
            (dict(NextToken="***not base64***"), "InvalidParameterValue"),
        ]:
            with self.subTest(**kw):
                self.assertError(self.v1.list_identities, code, **kw)

    def test_list_verified_email_addresses_lists_only_verified_addresses(self):
        self.v1.verify_email_identity(EmailAddress="pending@verified.example.net")
        r = self.v1.list_verified_email_addresses()
        self.assertNotIn("pending@verified.example.net", r["VerifiedEmailAddresses"])
        # A server that counts every identity verified lists the address, and
        # not the domain beside it.
        other = Sesame(delivery="delivery: {mode: capture}\napi: {auto_verify: true}\n").start()
        try:
            v1 = aws_clients(other, "ses")
            v1.verify_email_identity(EmailAddress="ok@verified.example.net")
            v1.verify_domain_identity(Domain="verified.example.net")
            got = v1.list_verified_email_addresses()["VerifiedEmailAddresses"]
            self.assertEqual(got, ["ok@verified.example.net"])
        finally:
            other.cleanup()

    # --- ListConfigurationSets: MaxItems, NextToken ----------------------------
    def test_list_configuration_sets_pages(self):
        names = [f"page-set-{i}" for i in range(5)]
        for n in names:
            self.v1.create_configuration_set(ConfigurationSet={"Name": n})
        seen, token = [], None
        while True:
            r = self.v1.list_configuration_sets(MaxItems=2, **({"NextToken": token} if token else {}))
            self.assertLessEqual(len(r["ConfigurationSets"]), 2)
            seen += [s["Name"] for s in r["ConfigurationSets"]]
            token = r.get("NextToken")
            if not token:
                break
        self.assertTrue(set(names) <= set(seen))
        self.assertEqual(len(seen), len(set(seen)), "a set listed twice")
        self.assertError(self.v1.list_configuration_sets, "ValidationError", MaxItems=5000)

    # --- configuration sets: event destinations (v1) ----------------------------
    def test_v1_event_destinations_create_update_delete(self):
        topic = self.sns.create_topic(Name="v1-dest-events")["TopicArn"]
        self.v1.create_configuration_set(ConfigurationSet={"Name": "v1-dest"})
        dest = {"Name": "to-sns", "Enabled": True, "MatchingEventTypes": ["send", "bounce", "renderingFailure"],
                "SNSDestination": {"TopicARN": topic}}
        self.v1.create_configuration_set_event_destination(ConfigurationSetName="v1-dest", EventDestination=dest)
        r = self.v1.describe_configuration_set(ConfigurationSetName="v1-dest",
                                               ConfigurationSetAttributeNames=["eventDestinations"])
        self.assertEqual(len(r["EventDestinations"]), 1)
        got = r["EventDestinations"][0]
        self.assertEqual((got["Name"], got["Enabled"], got["SNSDestination"]["TopicARN"]),
                         ("to-sns", True, topic))
        self.assertEqual(sorted(got["MatchingEventTypes"]), ["bounce", "renderingFailure", "send"])
        # The v2 API reads the same destination in its own names.
        v2 = self.v2.get_configuration_set_event_destinations(ConfigurationSetName="v1-dest")
        self.assertEqual(v2["EventDestinations"][0]["SnsDestination"]["TopicArn"], topic)
        self.assertEqual(sorted(v2["EventDestinations"][0]["MatchingEventTypes"]),
                         ["BOUNCE", "RENDERING_FAILURE", "SEND"])

        self.assertError(self.v1.create_configuration_set_event_destination, "EventDestinationAlreadyExists",
                         ConfigurationSetName="v1-dest", EventDestination=dest)
        self.v1.update_configuration_set_event_destination(
            ConfigurationSetName="v1-dest", EventDestination=dict(dest, Enabled=False, MatchingEventTypes=["delivery"]))
        got = self.v1.describe_configuration_set(ConfigurationSetName="v1-dest",
                                                 ConfigurationSetAttributeNames=["eventDestinations"])
        self.assertEqual((got["EventDestinations"][0]["Enabled"], got["EventDestinations"][0]["MatchingEventTypes"]),
                         (False, ["delivery"]))
        self.v1.delete_configuration_set_event_destination(ConfigurationSetName="v1-dest",
                                                           EventDestinationName="to-sns")
        got = self.v1.describe_configuration_set(ConfigurationSetName="v1-dest",
                                                 ConfigurationSetAttributeNames=["eventDestinations"])
        self.assertEqual(got.get("EventDestinations", []), [])

    def test_v1_event_destination_errors(self):
        self.v1.create_configuration_set(ConfigurationSet={"Name": "v1-dest-errors"})
        topic = self.sns.create_topic(Name="v1-dest-errors")["TopicArn"]
        missing_topic = "arn:aws:sns:us-east-1:000000000000:no-such-topic"
        ok = {"Name": "d1", "Enabled": True, "MatchingEventTypes": ["send"],
              "SNSDestination": {"TopicARN": missing_topic}}
        cases = [
            ("create", "no-such-set", ok, "ConfigurationSetDoesNotExist",
             "Configuration set <no-such-set> does not exist."),
            ("create", "v1-dest-errors", ok, "InvalidSNSDestination", None),
            ("create", "v1-dest-errors", dict(ok, MatchingEventTypes=["sent"]), "ValidationError", None),
            ("create", "v1-dest-errors", dict(ok, Name="bad name!"), "InvalidParameterValue", None),
            ("update", "v1-dest-errors", dict(ok, Name="never-made", SNSDestination={"TopicARN": topic}),
             "EventDestinationDoesNotExist", None),
        ]
        for op, cs, dest, code, message in cases:
            with self.subTest(op=op, dest=dest["Name"], code=code):
                call = (self.v1.create_configuration_set_event_destination if op == "create"
                        else self.v1.update_configuration_set_event_destination)
                self.assertError(call, code, message, ConfigurationSetName=cs, EventDestination=dest)
        self.assertError(self.v1.delete_configuration_set_event_destination, "EventDestinationDoesNotExist",
                         ConfigurationSetName="v1-dest-errors", EventDestinationName="never-made")
        self.assertError(self.v1.delete_configuration_set_event_destination, "ConfigurationSetDoesNotExist",
                         ConfigurationSetName="no-such-set", EventDestinationName="d1")

    # --- configuration sets: sending and reputation switches ---------------------
    def test_update_configuration_set_sending_enabled_pauses_sends(self):
        self.v1.create_configuration_set(ConfigurationSet={"Name": "v1-pause"})
        self.v1.verify_email_identity(EmailAddress="pause@example.com")
        self.v1.update_configuration_set_sending_enabled(ConfigurationSetName="v1-pause", Enabled=False)
        r = self.v1.describe_configuration_set(ConfigurationSetName="v1-pause",
                                               ConfigurationSetAttributeNames=["reputationOptions"])
        self.assertFalse(r["ReputationOptions"]["SendingEnabled"])
        msg = dict(Source="pause@example.com", Destination={"ToAddresses": ["x@example.org"]},
                   Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
                   ConfigurationSetName="v1-pause")
        self.assertError(self.v1.send_email, "ConfigurationSetSendingPausedException", **msg)
        self.v1.update_configuration_set_sending_enabled(ConfigurationSetName="v1-pause", Enabled=True)
        r = self.v1.describe_configuration_set(ConfigurationSetName="v1-pause",
                                               ConfigurationSetAttributeNames=["reputationOptions"])
        self.assertTrue(r["ReputationOptions"]["SendingEnabled"])
        self.assertError(self.v1.update_configuration_set_sending_enabled, "ConfigurationSetDoesNotExist",
                         ConfigurationSetName="no-such-set", Enabled=True)

    def test_update_configuration_set_reputation_metrics_enabled(self):
        self.v1.create_configuration_set(ConfigurationSet={"Name": "v1-rep"})
        for enabled in (True, False):
            self.v1.update_configuration_set_reputation_metrics_enabled(ConfigurationSetName="v1-rep",
                                                                        Enabled=enabled)
            r = self.v1.describe_configuration_set(ConfigurationSetName="v1-rep",
                                                   ConfigurationSetAttributeNames=["reputationOptions"])
            self.assertEqual(r["ReputationOptions"]["ReputationMetricsEnabled"], enabled)
            v2 = self.v2.get_configuration_set(ConfigurationSetName="v1-rep")
            self.assertEqual(v2["ReputationOptions"]["ReputationMetricsEnabled"], enabled)
        self.assertError(self.v1.update_configuration_set_reputation_metrics_enabled,
                         "ConfigurationSetDoesNotExist", ConfigurationSetName="no-such-set", Enabled=True)

    def test_describe_configuration_set_rejects_unknown_attribute(self):
        self.v1.create_configuration_set(ConfigurationSet={"Name": "v1-attrs"})
        self.assertError(self.v1.describe_configuration_set, "ValidationError",
                         ConfigurationSetName="v1-attrs", ConfigurationSetAttributeNames=["colour"])

    def test_tracking_options_create_update_delete(self):
        self.v1.create_configuration_set(ConfigurationSet={"Name": "v1-track"})
        self.assertError(self.v1.update_configuration_set_tracking_options,
                         "TrackingOptionsDoesNotExistException", ConfigurationSetName="v1-track",
                         TrackingOptions={"CustomRedirectDomain": "t.example.com"})
        self.v1.create_configuration_set_tracking_options(
            ConfigurationSetName="v1-track", TrackingOptions={"CustomRedirectDomain": "t.example.com"})
        self.assertError(self.v1.create_configuration_set_tracking_options,
                         "TrackingOptionsAlreadyExistsException", ConfigurationSetName="v1-track",
                         TrackingOptions={"CustomRedirectDomain": "t.example.com"})

        def domain():
            r = self.v1.describe_configuration_set(ConfigurationSetName="v1-track",
                                                   ConfigurationSetAttributeNames=["trackingOptions"])
            return r["TrackingOptions"].get("CustomRedirectDomain")
        self.assertEqual(domain(), "t.example.com")
        self.v1.update_configuration_set_tracking_options(
            ConfigurationSetName="v1-track", TrackingOptions={"CustomRedirectDomain": "u.example.com"})
        self.assertEqual(domain(), "u.example.com")
        v2 = self.v2.get_configuration_set(ConfigurationSetName="v1-track")
        self.assertEqual(v2["TrackingOptions"]["CustomRedirectDomain"], "u.example.com")
        self.assertError(self.v1.update_configuration_set_tracking_options, "InvalidTrackingOptions",
                         ConfigurationSetName="v1-track",
                         TrackingOptions={"CustomRedirectDomain": "bad domain\r\nX: y"})
        self.v1.delete_configuration_set_tracking_options(ConfigurationSetName="v1-track")
        self.assertIsNone(domain())
        self.assertError(self.v1.delete_configuration_set_tracking_options,
                         "TrackingOptionsDoesNotExistException", ConfigurationSetName="v1-track")
        self.assertError(self.v1.create_configuration_set_tracking_options, "ConfigurationSetDoesNotExist",
                         ConfigurationSetName="no-such-set", TrackingOptions={})

    def test_put_configuration_set_delivery_options(self):
        self.v1.create_configuration_set(ConfigurationSet={"Name": "v1-tls"})
        self.v1.put_configuration_set_delivery_options(ConfigurationSetName="v1-tls",
                                                       DeliveryOptions={"TlsPolicy": "Require"})
        r = self.v1.describe_configuration_set(ConfigurationSetName="v1-tls",
                                               ConfigurationSetAttributeNames=["deliveryOptions"])
        self.assertEqual(r["DeliveryOptions"]["TlsPolicy"], "Require")
        self.assertEqual(self.v2.get_configuration_set(ConfigurationSetName="v1-tls")["DeliveryOptions"]["TlsPolicy"],
                         "REQUIRE")
        self.assertError(self.v1.put_configuration_set_delivery_options, "ValidationError",
                         ConfigurationSetName="v1-tls", DeliveryOptions={"TlsPolicy": "Sometimes"})
        self.assertError(self.v1.put_configuration_set_delivery_options, "ConfigurationSetDoesNotExist",
                         ConfigurationSetName="no-such-set", DeliveryOptions={"TlsPolicy": "Optional"})

    def test_account_sending_enabled(self):
        self.assertTrue(self.v1.get_account_sending_enabled()["Enabled"])
        self.v1.verify_email_identity(EmailAddress="acct@example.com")
        try:
            self.v1.update_account_sending_enabled(Enabled=False)
            self.assertFalse(self.v1.get_account_sending_enabled()["Enabled"])
            self.assertFalse(self.v2.get_account()["SendingEnabled"])
        finally:
            self.v1.update_account_sending_enabled(Enabled=True)
        self.assertTrue(self.v1.get_account_sending_enabled()["Enabled"])

    def test_set_identity_dkim_enabled(self):
        self.v1.verify_domain_identity(Domain="dkimswitch.example.net")
        self.v1.verify_domain_dkim(Domain="dkimswitch.example.net")

        def enabled():
            r = self.v1.get_identity_dkim_attributes(Identities=["dkimswitch.example.net"])
            return r["DkimAttributes"]["dkimswitch.example.net"]["DkimEnabled"]
        self.v1.set_identity_dkim_enabled(Identity="dkimswitch.example.net", DkimEnabled=False)
        self.assertFalse(enabled())
        self.v1.set_identity_dkim_enabled(Identity="dkimswitch.example.net", DkimEnabled=True)
        self.assertTrue(enabled())
        self.assertError(self.v1.set_identity_dkim_enabled, "InvalidParameterValue",
                         Identity="nobody.example.net", DkimEnabled=True)

    def test_delete_verified_email_address(self):
        self.v1.verify_email_address(EmailAddress="gone@example.com")
        self.assertIn("gone@example.com", self.v1.list_identities()["Identities"])
        self.v1.delete_verified_email_address(EmailAddress="gone@example.com")
        self.assertNotIn("gone@example.com", self.v1.list_identities()["Identities"])

    def test_missing_required_member_is_aws_validation_error(self):
        import botocore.config
        import boto3 as b3
        raw = b3.client("ses", endpoint_url=self.v1.meta.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=self.v1._request_signer._credentials.access_key,
                        aws_secret_access_key=self.v1._request_signer._credentials.secret_key,
                        config=botocore.config.Config(parameter_validation=False))
        self.assertError(raw.delete_identity, "ValidationError",
                         "1 validation error detected: Value null at 'identity' failed to satisfy "
                         "constraint: Member must not be null")

    def test_sns_topic_tags(self):
        arn = self.sns.create_topic(Name="tagged-topic")["TopicArn"]
        self.sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "mail"},
                                                     {"Key": "env", "Value": "prod"}])
        tags = {t["Key"]: t["Value"] for t in self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        self.assertEqual(tags, {"team": "mail", "env": "prod"})
        self.sns.untag_resource(ResourceArn=arn, TagKeys=["env"])
        self.assertEqual(self.sns.list_tags_for_resource(ResourceArn=arn)["Tags"],
                         [{"Key": "team", "Value": "mail"}])
        missing = arn.rsplit(":", 1)[0] + ":no-such-topic"
        self.assertError(self.sns.list_tags_for_resource, "ResourceNotFound", status=404, ResourceArn=missing)
        self.assertError(self.sns.tag_resource, "InvalidParameter", ResourceArn=arn,
                         Tags=[{"Key": "k" * 129, "Value": "v"}])
        self.assertError(self.sns.tag_resource, "TagLimitExceeded", ResourceArn=arn,
                         Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])

    def test_different_answers_match_ses(self):
        # Notification settings on an identity that is not verified (or not there).
        for call, kw in ((self.v1.set_identity_notification_topic, dict(NotificationType="Bounce")),
                         (self.v1.set_identity_feedback_forwarding_enabled, dict(ForwardingEnabled=True)),
                         (self.v1.set_identity_headers_in_notifications_enabled,
                          dict(NotificationType="Bounce", Enabled=True))):
            with self.subTest(call=call.__name__):
                self.assertError(call, "MessageRejected",
                                 "Identity <ghost@example.com> is not verified or does not exist.",
                                 Identity="ghost@example.com", **kw)
        # Not-found messages name the resource in SES's brackets.
        self.assertError(self.v1.get_template, "TemplateDoesNotExist", "Template <no-such-template> does not exist.",
                         TemplateName="no-such-template")
        self.assertError(self.v1.delete_configuration_set, "ConfigurationSetDoesNotExist",
                         "Configuration set <no-such-set> does not exist.", ConfigurationSetName="no-such-set")
        err, http = self.error(self.v2.get_email_template, TemplateName="no-such-template")
        self.assertEqual((err["Code"], err["Message"], http),
                         ("NotFoundException", "Template <no-such-template> does not exist.", 404))
        err, _ = self.error(self.v2.get_email_identity, EmailIdentity="ghost@example.com")
        self.assertEqual(err["Message"], "Email identity <ghost@example.com> does not exist.")
        # No quota configured: unlimited, which SES spells -1 (0 reads as "may not send").
        q = self.v1.get_send_quota()
        self.assertEqual((q["Max24HourSend"], q["MaxSendRate"]), (-1.0, -1.0))
        self.assertEqual(self.v2.get_account()["SendQuota"]["MaxSendRate"], -1.0)

    def test_an_invalid_destination_is_an_invalid_parameter(self):
        raw = b"From: a@example.com\r\nTo: x@example.org\r\nSubject: s\r\n\r\nb\r\n"
        self.v1.verify_email_identity(EmailAddress="a@example.com")
        self.assertError(self.v1.send_raw_email, "InvalidParameterValue", 'Illegal address: "not-an-address"',
                         Source="a@example.com", Destinations=["not-an-address"], RawMessage={"Data": raw})
        err, http = self.error(self.v2.send_email, FromEmailAddress="a@example.com",
                               Destination={"ToAddresses": ["bad"]}, Content={"Raw": {"Data": raw}})
        self.assertEqual((err["Code"], http), ("BadRequestException", 400))
        # Too many recipients stays SES's MessageRejected.
        self.assertError(self.v1.send_raw_email, "MessageRejected", "Recipient count exceeds 50.",
                         Source="a@example.com", Destinations=[f"r{i}@example.org" for i in range(51)],
                         RawMessage={"Data": raw})

    # --- MAIL FROM -------------------------------------------------------------
    def test_set_identity_mail_from_domain_checks_behavior(self):
        self.v1.verify_domain_identity(Domain="mailfrom.example.net")
        self.assertError(self.v1.set_identity_mail_from_domain, "ValidationError",
                         Identity="mailfrom.example.net", MailFromDomain="bounce.mailfrom.example.net",
                         BehaviorOnMXFailure="Sometimes")
        self.v1.set_identity_mail_from_domain(Identity="mailfrom.example.net",
                                              MailFromDomain="bounce.mailfrom.example.net",
                                              BehaviorOnMXFailure="RejectMessage")
        got = self.v1.get_identity_mail_from_domain_attributes(Identities=["mailfrom.example.net"])
        self.assertEqual(got["MailFromDomainAttributes"]["mailfrom.example.net"]["BehaviorOnMXFailure"],
                         "RejectMessage")

    # --- ListTemplates ---------------------------------------------------------
    def test_list_templates_has_timestamps_and_pages_by_ten(self):
        import datetime
        before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
        for i in range(12):
            self.v1.create_template(Template={"TemplateName": f"lt-{i:02d}", "SubjectPart": "s", "TextPart": "t"})
        first = self.v1.list_templates()
        self.assertEqual(len(first["TemplatesMetadata"]), 10)  # SES's default page
        self.assertIn("NextToken", first)
        for t in first["TemplatesMetadata"]:
            self.assertIsInstance(t["CreatedTimestamp"], datetime.datetime)
            self.assertGreaterEqual(t["CreatedTimestamp"], before)
        rest = self.v1.list_templates(NextToken=first["NextToken"], MaxItems=500)  # read as 100
        names = [t["Name"] for t in first["TemplatesMetadata"] + rest["TemplatesMetadata"]]
        self.assertEqual(sorted(n for n in names if n.startswith("lt-")), [f"lt-{i:02d}" for i in range(12)])
        self.assertNotIn("NextToken", rest)


@unittest.skipUnless(boto3, "python3-boto3 missing")
class SesV2Completeness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true, auto_verify: true}\n").start()
        cls.v1, cls.v2 = aws_clients(cls.server, "ses", "sesv2")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def code(self, call, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            call(**kw)
        return cm.exception.response["Error"]["Code"]

    def test_update_email_identity_policy_creates_a_new_name(self):
        self.v2.create_email_identity(EmailIdentity="policy.example.net")
        doc = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},'
               '"Action":["ses:SendEmail"],"Resource":"arn:aws:ses:us-east-1:000000000000:identity/policy.example.net"}]}')
        self.v2.update_email_identity_policy(EmailIdentity="policy.example.net", PolicyName="fresh", Policy=doc)
        got = self.v2.get_email_identity_policies(EmailIdentity="policy.example.net")["Policies"]
        self.assertEqual(list(got), ["fresh"])
        self.assertEqual(self.code(self.v2.create_email_identity_policy, EmailIdentity="policy.example.net",
                                   PolicyName="fresh", Policy=doc), "AlreadyExistsException")

    def test_create_email_identity_keeps_configuration_set_and_tags(self):
        self.v2.create_configuration_set(ConfigurationSetName="identity-default")
        tags = [{"Key": "team", "Value": "growth"}, {"Key": "env", "Value": ""}]
        self.v2.create_email_identity(EmailIdentity="tagged@example.com", ConfigurationSetName="identity-default",
                                      Tags=tags)
        got = self.v2.get_email_identity(EmailIdentity="tagged@example.com")
        self.assertEqual(got["ConfigurationSetName"], "identity-default")
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in got["Tags"]), [("env", ""), ("team", "growth")])
        # The default set applies to a send that names none: pausing it
        # refuses such a send, and a send naming another set is not affected.
        self.v2.put_configuration_set_sending_options(ConfigurationSetName="identity-default", SendingEnabled=False)
        send = dict(FromEmailAddress="tagged@example.com", Destination={"ToAddresses": ["x@example.org"]},
                    Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
        self.assertEqual(self.code(self.v2.send_email, **send), "SendingPausedException")
        self.v2.create_configuration_set(ConfigurationSetName="identity-other")
        self.assertIn("MessageId", self.v2.send_email(**send, ConfigurationSetName="identity-other"))
        # PutEmailIdentityConfigurationSetAttributes without a name removes the default.
        self.v2.put_email_identity_configuration_set_attributes(EmailIdentity="tagged@example.com")
        self.assertNotIn("ConfigurationSetName", self.v2.get_email_identity(EmailIdentity="tagged@example.com"))
        self.assertIn("MessageId", self.v2.send_email(**send))

    def test_create_email_identity_validation(self):
        for kw, code in [
            (dict(EmailIdentity="bad-set@example.com", ConfigurationSetName="no-such-set"), "NotFoundException"),
            (dict(EmailIdentity="bad-tag@example.com", Tags=[{"Key": "", "Value": "v"}]), "BadRequestException"),
            (dict(EmailIdentity="long-tag@example.com", Tags=[{"Key": "k" * 129, "Value": "v"}]),
             "BadRequestException"),
            (dict(EmailIdentity="many-tags@example.com", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]),
             "BadRequestException"),
        ]:
            with self.subTest(identity=kw["EmailIdentity"]):
                self.assertEqual(self.code(self.v2.create_email_identity, **kw), code)
                # Refused whole: the identity was not created.
                self.assertEqual(self.code(self.v2.get_email_identity, EmailIdentity=kw["EmailIdentity"]),
                                 "NotFoundException")

    def test_list_email_templates_pages_by_ten_at_most(self):
        for i in range(12):
            self.v2.create_email_template(TemplateName=f"v2page-{i:02d}",
                                          TemplateContent={"Subject": "s", "Text": "t"})
        first = self.v2.list_email_templates()
        self.assertEqual(len(first["TemplatesMetadata"]), 10)
        self.assertIn("NextToken", first)
        self.assertEqual(self.code(self.v2.list_email_templates, PageSize=11), "BadRequestException")
        names, token = [], None
        while True:
            page = self.v2.list_email_templates(PageSize=5, **({"NextToken": token} if token else {}))
            names += [t["TemplateName"] for t in page["TemplatesMetadata"]]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual([n for n in names if n.startswith("v2page-")], [f"v2page-{i:02d}" for i in range(12)])

    def test_put_email_identity_feedback_attributes(self):
        self.v2.create_email_identity(EmailIdentity="feedback@example.com")
        self.assertTrue(self.v2.get_email_identity(EmailIdentity="feedback@example.com")["FeedbackForwardingStatus"])
        self.v2.put_email_identity_feedback_attributes(EmailIdentity="feedback@example.com",
                                                       EmailForwardingEnabled=False)
        self.assertFalse(self.v2.get_email_identity(EmailIdentity="feedback@example.com")["FeedbackForwardingStatus"])
        v1 = self.v1.get_identity_notification_attributes(Identities=["feedback@example.com"])
        self.assertFalse(v1["NotificationAttributes"]["feedback@example.com"]["ForwardingEnabled"])
        self.assertEqual(self.code(self.v2.put_email_identity_feedback_attributes,
                                   EmailIdentity="nobody@example.com", EmailForwardingEnabled=True),
                         "NotFoundException")

    def test_v2_get_configuration_set_made_through_v1(self):
        self.v1.create_configuration_set(ConfigurationSet={"Name": "made-by-v1"})
        got = self.v2.get_configuration_set(ConfigurationSetName="made-by-v1")
        self.assertEqual(got["ConfigurationSetName"], "made-by-v1")
        self.assertEqual(got["Tags"], [])

    # --- SNS attributes ---------------------------------------------------------
    def test_topic_attributes(self):
        sns = aws_clients(self.server, "sns")
        arn = sns.create_topic(Name="attrs-topic")["TopicArn"]
        a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        self.assertEqual((a["TopicArn"], a["Owner"], a["DisplayName"]), (arn, arn.split(":")[4], ""))
        self.assertEqual((a["SubscriptionsConfirmed"], a["SubscriptionsPending"]), ("0", "0"))
        self.assertIn('"Resource":"' + arn + '"', a["Policy"])
        sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Ops alerts")
        self.assertEqual(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"], "Ops alerts")
        for kw, code in [
            (dict(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue="{}"), "InvalidParameter"),
            (dict(TopicArn=arn, AttributeName="Policy", AttributeValue="not json"), "InvalidParameter"),
            (dict(TopicArn=arn + "-gone", AttributeName="DisplayName", AttributeValue="x"), "NotFound"),
        ]:
            with self.subTest(**kw):
                self.assertEqual(self.code(sns.set_topic_attributes, **kw), code)
        self.assertEqual(self.code(sns.get_topic_attributes, TopicArn=arn + "-gone"), "NotFound")
        self.assertEqual(self.code(sns.get_subscription_attributes, SubscriptionArn=arn + ":no-such-sub"),
                         "NotFound")


@unittest.skipUnless(boto3, "python3-boto3 missing")
class CustomVerification(unittest.TestCase):
    """Custom verification email templates end to end: the template's message
    reaches the address with a link; following it verifies the identity and
    redirects to the template's success URL (a second time: the failure URL)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Sesame(delivery="delivery: {mode: capture}\n"
                            "api: {auto_verify: false, local_mailbox: true}\n").start()
        cls.v1, cls.v2 = aws_clients(cls.server, "ses", "sesv2")
        cls.endpoint = f"http://127.0.0.1:{cls.server.ports['http']}"

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def mail_to(self, address):
        found = []

        def poll():
            with urllib.request.urlopen(self.endpoint + "/_aws/ses", timeout=5) as r:
                found[:] = [m for m in json.loads(r.read())["messages"]
                            if address in m["Destination"]["ToAddresses"]]
            return bool(found)
        self.assertTrue(wait_until(poll, 10), f"no mail to {address}")
        return email.message_from_string(found[-1]["RawData"], policy=email.policy.default)

    def follow(self, link):
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        opener = urllib.request.build_opener(NoRedirect)
        try:
            r = opener.open(link, timeout=5)
            return r.status, r.headers.get("Location")
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Location")

    def test_template_crud_and_verification_flow(self):
        # The sender of the template must itself be verified: Sesame's own link.
        self.v1.verify_email_identity(EmailAddress="onboarding@example.com")
        msg = self.mail_to("onboarding@example.com")
        link = re.search(r"http://\S+/verify-email\S+", msg.get_body(preferencelist=("plain",)).get_content())
        self.assertEqual(self.follow(link.group(0))[0], 200)

        tpl = dict(TemplateName="welcome", FromEmailAddress="onboarding@example.com",
                   TemplateSubject="Please confirm", TemplateContent="<h1>Hello from Example</h1>",
                   SuccessRedirectionURL="https://example.com/ok",
                   FailureRedirectionURL="https://example.com/fail")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.v1.create_custom_verification_email_template(**{**tpl, "FromEmailAddress": "stranger@example.com"})
        self.assertEqual(cm.exception.response["Error"]["Code"], "FromEmailAddressNotVerified")
        self.v1.create_custom_verification_email_template(**tpl)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.v1.create_custom_verification_email_template(**tpl)
        self.assertEqual(cm.exception.response["Error"]["Code"], "CustomVerificationEmailTemplateAlreadyExists")
        got = self.v2.get_custom_verification_email_template(TemplateName="welcome")
        self.assertEqual(got["TemplateContent"], "<h1>Hello from Example</h1>")
        self.v2.update_custom_verification_email_template(
            TemplateName="welcome", FromEmailAddress="onboarding@example.com", TemplateSubject="Confirm, please",
            TemplateContent="<h1>Hello again</h1>", SuccessRedirectionURL="https://example.com/ok",
            FailureRedirectionURL="https://example.com/fail")
        listed = self.v1.list_custom_verification_email_templates(MaxResults=10)["CustomVerificationEmailTemplates"]
        self.assertEqual([(t["TemplateName"], t["TemplateSubject"]) for t in listed], [("welcome", "Confirm, please")])
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.v2.get_custom_verification_email_template(TemplateName="nope")
        self.assertEqual(cm.exception.response["Error"]["Code"], "NotFoundException")

        sent = self.v2.send_custom_verification_email(EmailAddress="newuser@example.org", TemplateName="welcome")
        self.assertTrue(sent["MessageId"])
        msg = self.mail_to("newuser@example.org")
        self.assertEqual(msg["Subject"], "Confirm, please")
        self.assertEqual(msg["From"], "onboarding@example.com")
        html = msg.get_body(preferencelist=("html",)).get_content()
        self.assertIn("<h1>Hello again</h1>", html)
        attrs = self.v1.get_identity_verification_attributes(Identities=["newuser@example.org"])
        self.assertEqual(attrs["VerificationAttributes"]["newuser@example.org"]["VerificationStatus"], "Pending")
        link = re.search(r'href="([^"]+)"', html).group(1).replace("&amp;", "&")
        self.assertEqual(self.follow(link), (302, "https://example.com/ok"))
        attrs = self.v1.get_identity_verification_attributes(Identities=["newuser@example.org"])
        self.assertEqual(attrs["VerificationAttributes"]["newuser@example.org"]["VerificationStatus"], "Success")
        self.assertEqual(self.follow(link), (302, "https://example.com/fail"))  # used already

        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.v1.send_custom_verification_email(EmailAddress="x@example.org", TemplateName="nope")
        self.assertEqual(cm.exception.response["Error"]["Code"], "CustomVerificationEmailTemplateDoesNotExist")
        self.v1.delete_custom_verification_email_template(TemplateName="welcome")
        self.assertEqual(self.v2.list_custom_verification_email_templates()["CustomVerificationEmailTemplates"], [])

    def test_template_validation(self):
        self.v1.verify_email_identity(EmailAddress="valid@example.com")
        base = dict(TemplateName="t1", FromEmailAddress="valid@example.com", TemplateSubject="s",
                    TemplateContent="<p>x</p>", SuccessRedirectionURL="https://e.com/ok",
                    FailureRedirectionURL="https://e.com/fail")
        for bad in ({"TemplateName": "bad name!"}, {"SuccessRedirectionURL": "javascript:alert(1)"},
                    {"FailureRedirectionURL": "https://e.com/a b"}, {"TemplateSubject": "a\r\nBcc: x@y.z"}):
            with self.subTest(bad=bad), self.assertRaises(botocore.exceptions.ClientError) as cm:
                self.v2.create_custom_verification_email_template(**{**base, **bad})
            self.assertEqual(cm.exception.response["Error"]["Code"], "BadRequestException")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.v2.list_custom_verification_email_templates(PageSize=51)
        self.assertEqual(cm.exception.response["Error"]["Code"], "BadRequestException")


@unittest.skipUnless(boto3, "python3-boto3 missing")
class MessageTags(unittest.TestCase):
    """Message tags of API sends: SES's validation, and the tags reach the
    events' mail.tags (here through a file subscription)."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.events = os.path.join(tempfile.mkdtemp(prefix="sesame-tags-"), "events.jsonl")
        cls.server = Sesame(delivery=(
            "delivery: {mode: capture}\napi: {auto_verify: true}\n"
            "configuration_sets:\n  - name: tagged\n    event_destinations:\n"
            "      - {name: f, topic: tag-events, matching_event_types: [SEND]}\n"
            "events:\n  topics:\n    - name: tag-events\n      subscriptions:\n"
            f"        - {{protocol: file, endpoint: \"{cls.events}\"}}\n")).start()
        cls.v1, cls.v2 = aws_clients(cls.server, "ses", "sesv2")
        cls.v2.create_email_identity(EmailIdentity="tags.example.com")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def tags_of(self, message_id):
        found = []

        def poll():
            if not os.path.exists(self.events):
                return False
            for line in open(self.events):
                e = json.loads(line)
                e = json.loads(e["Message"]) if "Message" in e else e
                if e["mail"]["messageId"] == message_id:
                    found[:] = [e["mail"]["tags"]]
            return bool(found)
        self.assertTrue(wait_until(poll, 10), f"no Send event for {message_id}")
        return found[0]

    def test_tags_reach_the_events(self):
        simple = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
        r = self.v2.send_email(FromEmailAddress="a@tags.example.com", Destination={"ToAddresses": ["x@example.org"]},
                               Content=simple, ConfigurationSetName="tagged",
                               EmailTags=[{"Name": "campaign", "Value": "spring-2027"},
                                          {"Name": "user_id", "Value": "42"}])
        tags = self.tags_of(r["MessageId"])
        self.assertEqual((tags["campaign"], tags["user_id"]), (["spring-2027"], ["42"]))
        self.assertEqual(tags["ses:configuration-set"], ["tagged"])
        r = self.v1.send_email(Source="a@tags.example.com", Destination={"ToAddresses": ["x@example.org"]},
                               Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
                               ConfigurationSetName="tagged", Tags=[{"Name": "kind", "Value": "receipt"}])
        self.assertEqual(self.tags_of(r["MessageId"])["kind"], ["receipt"])
        self.v2.create_email_template(TemplateName="tagtpl", TemplateContent={"Subject": "hi {{n}}", "Text": "t"})
        r = self.v2.send_bulk_email(
            FromEmailAddress="a@tags.example.com", ConfigurationSetName="tagged",
            DefaultContent={"Template": {"TemplateName": "tagtpl", "TemplateData": '{"n":"1"}'}},
            DefaultEmailTags=[{"Name": "campaign", "Value": "bulk"}, {"Name": "tier", "Value": "free"}],
            BulkEmailEntries=[{"Destination": {"ToAddresses": ["b1@example.org"]},
                               "ReplacementTags": [{"Name": "tier", "Value": "pro"}]},
                              {"Destination": {"ToAddresses": ["b2@example.org"]}}])
        first, second = [e["MessageId"] for e in r["BulkEmailEntryResults"]]
        self.assertEqual((self.tags_of(first)["campaign"], self.tags_of(first)["tier"]), (["bulk"], ["pro"]))
        self.assertEqual(self.tags_of(second)["tier"], ["free"])
        # A raw message's own tags header and the request's tags: one header,
        # the request's value winning a shared name.
        raw = (b"From: a@tags.example.com\r\nTo: x@example.org\r\nSubject: s\r\n"
               b"X-SES-MESSAGE-TAGS: source=raw, campaign=old\r\n\r\nbody\r\n")
        r = self.v2.send_email(Content={"Raw": {"Data": raw}}, ConfigurationSetName="tagged",
                               EmailTags=[{"Name": "campaign", "Value": "new"}])
        tags = self.tags_of(r["MessageId"])
        self.assertEqual((tags["source"], tags["campaign"]), (["raw"], ["new"]))

    def test_tag_validation(self):
        simple = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
        cases = [
            ([{"Name": "has space", "Value": "v"}],
             "Invalid tag name <has space>: only alphanumeric ASCII characters, '_', and '-' are allowed, "
             "up to 255 characters."),
            ([{"Name": "k", "Value": "a=b,c"}],
             "Invalid tag value <a=b,c>: only alphanumeric ASCII characters, '_', and '-' are allowed, "
             "up to 255 characters."),
            ([{"Name": "n" * 256, "Value": "v"}], None),
            ([{"Name": "k", "Value": "v" * 256}], None),
            ([{"Name": "ses:operation", "Value": "x"}],
             "Invalid tag name <ses:operation>: names beginning with 'ses:' are reserved."),
            ([{"Name": f"k{i}", "Value": "v"} for i in range(51)], "Too many message tags: at most 50 are allowed."),
            ([{"Name": "k", "Value": "v\r\nBcc: victim@example.org"}], None),
        ]
        for tags, message in cases:
            with self.subTest(tags=str(tags)[:60]):
                with self.assertRaises(botocore.exceptions.ClientError) as cm:
                    self.v2.send_email(FromEmailAddress="a@tags.example.com",
                                       Destination={"ToAddresses": ["x@example.org"]}, Content=simple,
                                       EmailTags=tags)
                err = cm.exception.response["Error"]
                self.assertEqual(err["Code"], "BadRequestException")
                if message:
                    self.assertEqual(err["Message"], message)
                with self.assertRaises(botocore.exceptions.ClientError) as cm:
                    self.v1.send_email(Source="a@tags.example.com", Destination={"ToAddresses": ["x@example.org"]},
                                       Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
                                       Tags=tags)
                self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidParameterValue")


if __name__ == "__main__":
    unittest.main()
