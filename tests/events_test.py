"""SES events end to end: configuration sets publish to SNS-style topics whose
http and file subscribers receive signed notifications, through a webhook
outage and a restart, at least once."""
import json
import os
import tempfile
import time
import unittest
import urllib.request

from dns_helper import Dnsmasq
from harness import Sesame, aws_clients, free_port, inject, metric, wait_until
from sink import FaultSink
from webhook import Receiver, verify_sns_signature

try:
    import boto3
except ImportError:  # pragma: no cover
    boto3 = None

TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:ses-events"
OUTAGE_SECONDS = int(os.environ.get("SESAME_OUTAGE_SECONDS", "120"))


def events_yaml(receiver_url, file_path, extra_subs="", retry=None):
    retry = retry or {"min_retry_seconds": 1, "max_retry_seconds": 5}
    settings = "".join(f"  {k}: {v}\n" for k, v in retry.items())
    return f"""events:
{settings}  topics:
    - name: ses-events
      subscriptions:
        - {{protocol: http, endpoint: "{receiver_url}"}}
        - {{protocol: file, endpoint: "{file_path}"}}
{extra_subs}"""


def delivery_yaml(dns, sink, types):
    return (f"delivery:\n  mode: smtp\n  resolver: {dns.address}\n  mx_port: {sink.port}\n"
            "  retry: {first_seconds: 1, factor: 2, max_seconds: 2}\n"
            "configuration_sets:\n  - name: tracked\n    event_destinations:\n"
            f"      - {{name: hook, topic: ses-events, matching_event_types: [{types}]}}\n")


def send(server, rcpts, subject, config_set="tracked", n=1):
    msgs = [("app@example.com", rcpts, f"{subject}-{i}", f"X-SES-CONFIGURATION-SET: {config_set}")
            for i in range(n)]
    return list(inject(server.ports["smtp"], msgs).values())


@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class Events(unittest.TestCase):
    def setUp(self):
        self.sink = FaultSink(host="127.0.0.2", rules=[(r"^hard", "550 5.1.1 <hard@dest.test>: User unknown")]).start()
        self.dns = Dnsmasq(mx=[("dest.test", "mx.dest.test", 10)], hosts=[("mx.dest.test", "127.0.0.2")])
        self.receiver = Receiver().start()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        self.receiver.stop()
        self.sink.stop()
        self.dns.stop()

    def start(self, types, extra_subs="", retry=None, data_dir=None, receiver_url=None, destinations="",
              extra=""):
        self.file_path = os.path.join(tempfile.mkdtemp(prefix="sesame-events-"), "events.jsonl")
        server = Sesame(delivery=delivery_yaml(self.dns, self.sink, types) + destinations +
                        events_yaml(receiver_url or self.receiver.url, self.file_path, extra_subs, retry) + extra,
                        relay=True, data_dir=data_dir)
        self.servers.append(server)
        return server.start()

    def test_signed_notifications_to_http_and_file(self):
        server = self.start("SEND, DELIVERY, BOUNCE")
        self.assertTrue(wait_until(lambda: self.receiver.confirmations, 10), "no SubscriptionConfirmation")
        headers, confirmation = self.receiver.confirmations[0]
        self.assertEqual(headers["x-amz-sns-message-type"], "SubscriptionConfirmation")
        self.assertEqual(confirmation["TopicArn"], TOPIC_ARN)
        self.assertTrue(verify_sns_signature(confirmation))
        ids = send(server, ["ok@dest.test", "hard@dest.test"], "mixed")
        untracked = send(server, ["ok@dest.test"], "untracked", config_set="")
        self.assertEqual(len(ids), 1)
        self.assertTrue(wait_until(lambda: len(self.receiver.events()) >= 3, 15), self.receiver.events())
        time.sleep(0.5)
        events = self.receiver.events()
        by_type = {}
        for e in events:
            by_type.setdefault(e["eventType"], []).append(e)
        self.assertEqual(sorted(by_type), ["Bounce", "Delivery", "Send"], events)
        self.assertTrue(all(e["mail"]["messageId"] == ids[0] for e in events), "untracked mail published")
        self.assertNotIn(untracked[0], [e["mail"]["messageId"] for e in events])
        bounce = by_type["Bounce"][0]["bounce"]
        self.assertEqual((bounce["bounceType"], bounce["bounceSubType"]), ("Permanent", "NoEmail"))
        self.assertEqual(bounce["bouncedRecipients"][0]["emailAddress"], "hard@dest.test")
        self.assertEqual(bounce["bouncedRecipients"][0]["status"], "5.1.1")
        delivery = by_type["Delivery"][0]
        self.assertEqual(delivery["delivery"]["recipients"], ["ok@dest.test"])
        mail = delivery["mail"]
        self.assertEqual(mail["commonHeaders"]["subject"], "mixed-0")
        self.assertEqual(mail["tags"]["ses:configuration-set"], ["tracked"])
        self.assertEqual(mail["destination"], ["ok@dest.test", "hard@dest.test"])
        for headers, msg in self.receiver.notifications:
            self.assertEqual(msg["Type"], "Notification")
            self.assertEqual(msg["SignatureVersion"], "2")
            self.assertEqual(msg["Subject"], "Amazon SES Email Event Notification")
            self.assertEqual(headers["x-amz-sns-topic-arn"], TOPIC_ARN)
            self.assertEqual(headers["x-amz-sns-message-id"], msg["MessageId"])
            self.assertIn("x-amz-sns-subscription-arn", headers)
            self.assertTrue(headers["user-agent"].startswith("Amazon Simple Notification Service Agent"))
            self.assertTrue(verify_sns_signature(msg), msg)
            tampered = dict(msg, Message=msg["Message"].replace("dest.test", "evil.test"))
            self.assertFalse(verify_sns_signature(tampered))
        # The file subscriber got the same events as JSON lines.
        with open(self.file_path) as f:
            lines = [json.loads(l) for l in f]
        self.assertEqual(sorted(e["eventType"] for e in lines), ["Bounce", "Delivery", "Send"])

    def test_ecdsa_signing_key(self):
        server = self.start("DELIVERY", retry={"min_retry_seconds": 1, "signing": "ecdsa"})
        ids = send(server, ["ok@dest.test"], "ecdsa")
        self.assertTrue(wait_until(lambda: self.receiver.events(), 15))
        msg = self.receiver.messages()[0]
        self.assertEqual(json.loads(msg["Message"])["mail"]["messageId"], ids[0])
        with urllib.request.urlopen(msg["SigningCertURL"], timeout=5) as r:
            self.assertIn(b"BEGIN CERTIFICATE", r.read())
        self.assertTrue(verify_sns_signature(msg))
        self.assertFalse(verify_sns_signature(dict(msg, Timestamp="2001-01-01T00:00:00.000Z")))

    @unittest.skipUnless(boto3, "boto3 missing")
    def test_api_event_destination(self):
        server = self.start("SEND", extra="api: {auto_verify: true}\n")
        v2 = aws_clients(server, "sesv2")
        v2.create_configuration_set(ConfigurationSetName="viaapi")
        v2.create_configuration_set_event_destination(
            ConfigurationSetName="viaapi", EventDestinationName="hook",
            EventDestination={"Enabled": True, "MatchingEventTypes": ["DELIVERY", "RENDERING_FAILURE"],
                              "SnsDestination": {"TopicArn": TOPIC_ARN}})
        ids = send(server, ["ok@dest.test"], "api", config_set="viaapi")
        self.assertTrue(wait_until(lambda: any(e["mail"]["messageId"] == ids[0] for e in self.receiver.events()), 15))
        got = [e["eventType"] for e in self.receiver.events() if e["mail"]["messageId"] == ids[0]]
        self.assertEqual(got, ["Delivery"])
        # A template that cannot be rendered: accepted, then a Rendering Failure event.
        v2.create_email_template(TemplateName="greeting", TemplateContent={
            "Subject": "Hi {{name}}", "Text": "Hello {{name}}"})
        failed = v2.send_email(FromEmailAddress="app@example.com", Destination={"ToAddresses": ["x@dest.test"]},
                               Content={"Template": {"TemplateName": "greeting", "TemplateData": "{}"}},
                               ConfigurationSetName="viaapi")["MessageId"]
        self.assertTrue(wait_until(lambda: any(e["mail"]["messageId"] == failed for e in self.receiver.events()), 10))
        event = [e for e in self.receiver.events() if e["mail"]["messageId"] == failed][0]
        self.assertEqual(event["eventType"], "Rendering Failure")
        self.assertEqual(event["failure"]["templateName"], "greeting")
        self.assertIn("name", event["failure"]["errorMessage"])
        self.assertEqual(event["mail"]["destination"], ["x@dest.test"])

    @unittest.skipUnless(boto3, "boto3 missing")
    def test_identity_notifications(self):
        server = self.start("SEND", extra="api: {auto_verify: true}\n")
        v1 = aws_clients(server, "ses")
        v1.verify_domain_identity(Domain="example.com")
        v1.set_identity_notification_topic(Identity="example.com", NotificationType="Bounce", SnsTopic=TOPIC_ARN)
        v1.set_identity_notification_topic(Identity="example.com", NotificationType="Delivery", SnsTopic=TOPIC_ARN)
        v1.set_identity_headers_in_notifications_enabled(Identity="example.com", NotificationType="Bounce",
                                                         Enabled=True)
        attrs = v1.get_identity_notification_attributes(Identities=["example.com"])["NotificationAttributes"]
        got = attrs["example.com"]
        self.assertEqual(got["BounceTopic"], TOPIC_ARN)
        self.assertEqual(got["DeliveryTopic"], TOPIC_ARN)
        self.assertNotIn("ComplaintTopic", got)
        self.assertTrue(got["HeadersInBounceNotificationsEnabled"])
        self.assertFalse(got["HeadersInDeliveryNotificationsEnabled"])
        with self.assertRaises(Exception):
            v1.set_identity_notification_topic(Identity="example.com", NotificationType="Open", SnsTopic=TOPIC_ARN)
        # No configuration set: only the identity's notifications are published.
        ids = send(server, ["ok@dest.test", "hard@dest.test"], "notify", config_set="")

        def notes():
            return [json.loads(m["Message"]) for m in self.receiver.messages()
                    if "notificationType" in json.loads(m["Message"])]
        self.assertTrue(wait_until(lambda: len(notes()) >= 2, 15), notes())
        by_type = {n["notificationType"]: n for n in notes()}
        self.assertEqual(sorted(by_type), ["Bounce", "Delivery"])
        self.assertEqual(by_type["Bounce"]["mail"]["messageId"], ids[0])
        self.assertEqual(by_type["Bounce"]["bounce"]["bounceType"], "Permanent")
        self.assertIn("headers", by_type["Bounce"]["mail"])
        self.assertNotIn("headers", by_type["Delivery"]["mail"])
        self.assertNotIn("tags", by_type["Delivery"]["mail"])
        self.assertTrue(all(verify_sns_signature(m) for m in self.receiver.messages()))

    @unittest.skipUnless(boto3, "boto3 missing")
    def test_topics_and_subscriptions_through_the_sns_api(self):
        server = self.start("SEND", extra="api: {auto_verify: true}\n")
        sns, v2 = aws_clients(server, "sns", "sesv2")
        hook = Receiver().start()
        try:
            topic = sns.create_topic(Name="api-topic")["TopicArn"]
            self.assertEqual(topic, "arn:aws:sns:us-east-1:000000000000:api-topic")
            self.assertEqual(sns.create_topic(Name="api-topic")["TopicArn"], topic)  # idempotent
            arns = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
            self.assertIn(topic, arns)
            self.assertIn(TOPIC_ARN, arns)
            with self.assertRaises(sns.exceptions.InvalidParameterException):
                sns.create_topic(Name="bad name!")
            sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url)
            self.assertEqual(sub["SubscriptionArn"], "pending confirmation")
            with self.assertRaises(sns.exceptions.NotFoundException):
                sns.subscribe(TopicArn=topic + "-nope", Protocol="http", Endpoint=hook.url)

            def confirmed():
                subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
                return [s for s in subs if s["SubscriptionArn"].startswith(topic + ":")]
            self.assertTrue(wait_until(lambda: confirmed(), 10), sns.list_subscriptions_by_topic(TopicArn=topic))
            self.assertEqual(confirmed()[0]["Endpoint"], hook.url)
            self.assertTrue(verify_sns_signature(hook.confirmations[0][1]))
            # A restart keeps the topic and the confirmed subscription.
            server.kill9()
            server.start()
            self.assertIn(topic, [t["TopicArn"] for t in sns.list_topics()["Topics"]])
            self.assertTrue(confirmed())
            v2.create_configuration_set(ConfigurationSetName="snsapi")
            v2.create_configuration_set_event_destination(
                ConfigurationSetName="snsapi", EventDestinationName="d",
                EventDestination={"Enabled": True, "MatchingEventTypes": ["DELIVERY"],
                                  "SnsDestination": {"TopicArn": topic}})
            ids = send(server, ["ok@dest.test"], "snsapi", config_set="snsapi")
            self.assertTrue(wait_until(lambda: [e for e in hook.events() if e["mail"]["messageId"] == ids[0]], 15))
            self.assertTrue(all(verify_sns_signature(m) for m in hook.messages()))
            # Unsubscribed: nothing more arrives.
            sns.unsubscribe(SubscriptionArn=confirmed()[0]["SubscriptionArn"])
            self.assertEqual(confirmed(), [])
            before = len(hook.events())
            later = send(server, ["ok@dest.test"], "after", config_set="snsapi")
            self.assertTrue(wait_until(lambda: any(o.get("messageId") == later[0] and o.get("outcome") == "delivered"
                                                   for o in __import__("harness").read_outcomes(server.data_dir)), 10))
            time.sleep(1)
            self.assertEqual(len(hook.events()), before)
            # Config-file topics stay; API topics go.
            with self.assertRaises(sns.exceptions.AuthorizationErrorException):
                sns.delete_topic(TopicArn=TOPIC_ARN)
            sns.delete_topic(TopicArn=topic)
            self.assertNotIn(topic, [t["TopicArn"] for t in sns.list_topics()["Topics"]])
        finally:
            hook.stop()

    def test_outage_loses_nothing_and_signatures_verify(self):
        port = free_port()
        receiver = Receiver(port=port).start()
        server = self.start("DELIVERY", receiver_url=receiver.url)
        self.assertTrue(wait_until(lambda: receiver.notifications == [] and receiver.confirmations, 10))
        time.sleep(0.5)
        receiver.stop()  # down
        started = time.time()
        ids = send(server, ["ok@dest.test"], "outage", n=1000)
        self.assertEqual(len(ids), 1000)
        self.assertTrue(wait_until(lambda: metric(server.ports["http"], "sesame_events_published_total") >= 1000, 60))
        time.sleep(max(0, OUTAGE_SECONDS - (time.time() - started)))
        self.assertGreater(metric(server.ports["http"], "sesame_events_failed_attempts_total"), 0)
        back = Receiver(port=port).start()  # back up on the same port
        try:
            self.assertTrue(wait_until(lambda: len({e["mail"]["messageId"] for e in back.events()}) >= 1000, 90),
                            len(back.events()))
            got = {e["mail"]["messageId"] for e in back.events()}
            self.assertEqual(got, set(ids))
            bad = [m["MessageId"] for m in back.messages() if not verify_sns_signature(m)]
            self.assertEqual(bad, [])
            self.assertEqual(metric(server.ports["http"], "sesame_events_backlog"), 0)
        finally:
            back.stop()

    def test_pipelined_deliveries(self):
        # Two subscribers pipelining 8 requests per connection: one keeps its
        # connections, one closes each after 3 answers (the requests it never
        # read are sent again). Every event arrives, signed, on few connections.
        steady = Receiver().start()
        closing = Receiver(close_every=3).start()
        try:
            subs = "".join(f"        - {{protocol: http, endpoint: \"{r.url}\", confirm: false, pipeline: 8, "
                           "max_concurrency: 4}\n" for r in (steady, closing))
            server = self.start("DELIVERY", extra_subs=subs)
            ids = send(server, ["ok@dest.test"], "pipelined", n=300)
            for r in (steady, closing):
                self.assertTrue(wait_until(lambda: {e["mail"]["messageId"] for e in r.events()} >= set(ids), 60),
                                len(r.events()))
                self.assertTrue(all(verify_sns_signature(m) for m in r.messages()))
            # Nothing failed, so nothing was sent twice to the steady one.
            self.assertEqual(len(steady.events()), 300)
            self.assertLessEqual(steady.accepted, 4)
            # The receivers count an event before Sesame reads its answer.
            self.assertTrue(wait_until(lambda: metric(server.ports["http"], "sesame_events_backlog") == 0, 10))
        finally:
            steady.stop()
            closing.stop()

    def test_raw_and_enveloped_subscribers_of_one_topic(self):
        # One record, two shapes: the raw subscriber gets the SES event itself,
        # the other the signed envelope; both name the same SNS MessageId.
        raw = Receiver().start()
        wrapped = Receiver().start()
        try:
            subs = (f"        - {{protocol: http, endpoint: \"{raw.url}\", confirm: false, raw: true}}\n"
                    f"        - {{protocol: http, endpoint: \"{wrapped.url}\", confirm: false}}\n")
            # The topic's first subscriber never confirms (nothing listens on
            # port 9), so the raw one is the first to take each record.
            server = self.start("DELIVERY", extra_subs=subs, receiver_url="http://127.0.0.1:9/nobody")
            ids = send(server, ["ok@dest.test"], "shapes", n=20)
            self.assertTrue(wait_until(lambda: len(raw.messages()) >= 20 and len(wrapped.messages()) >= 20, 30))
            with raw.lock:
                raw_ids = {h["x-amz-sns-message-id"]: m for h, m in raw.notifications}
            self.assertEqual({m["mail"]["messageId"] for m in raw_ids.values()}, set(ids))
            self.assertTrue(all(m["eventType"] == "Delivery" for m in raw_ids.values()))
            for m in wrapped.messages():
                self.assertTrue(verify_sns_signature(m))
                self.assertRegex(m["Timestamp"], r"^\d{4}-\d\d-\d\dT")
                self.assertIn(m["MessageId"], raw_ids)
                self.assertEqual(json.loads(m["Message"]), raw_ids[m["MessageId"]])
        finally:
            raw.stop()
            wrapped.stop()

    def test_restart_during_backlog_loses_nothing(self):
        port = free_port()
        receiver = Receiver(port=port).start()
        server = self.start("DELIVERY", receiver_url=receiver.url)
        self.assertTrue(wait_until(lambda: receiver.confirmations, 10))
        time.sleep(0.5)
        receiver.stop()
        ids = send(server, ["ok@dest.test"], "restart", n=200)
        self.assertTrue(wait_until(lambda: metric(server.ports["http"], "sesame_events_published_total") >= 200, 30))
        server.kill9()
        server.start()
        back = Receiver(port=port).start()
        try:
            self.assertTrue(wait_until(lambda: {e["mail"]["messageId"] for e in back.events()} >= set(ids), 60),
                            len(back.events()))
            self.assertTrue(all(verify_sns_signature(m) for m in back.messages()))
        finally:
            back.stop()

    def test_dead_letter_store_and_redrive(self):
        failing = Receiver(status=500).start()
        extra = (f"    - name: flaky\n      subscriptions:\n"
                 f"        - {{protocol: http, endpoint: \"{failing.url}\", confirm: false}}\n")
        more = ("      - {name: flaky, topic: flaky, matching_event_types: [DELIVERY]}\n")
        server = self.start("DELIVERY", extra_subs=extra, destinations=more,
                            retry={"min_retry_seconds": 1, "max_retry_seconds": 1, "retry_for_seconds": 2})
        http = server.ports["http"]
        try:
            ids = send(server, ["ok@dest.test"], "dlq", n=3)

            def dead():
                return server.admin("/admin/events/dlq")
            self.assertTrue(wait_until(lambda: len(dead()) == 3, 20), dead())
            self.assertEqual({d["event"]["mail"]["messageId"] for d in dead()}, set(ids))
            self.assertTrue(all(d["topic"] == "flaky" for d in dead()))
            # The healthy subscriber was not held back by the failing one.
            self.assertTrue(wait_until(lambda: len(self.receiver.events()) >= 3, 10))
            # Redrive once the endpoint works: the records arrive.
            failing.status = 200
            sub = dead()[0]["subscription"]
            self.assertEqual(server.admin(f"/admin/events/dlq/redrive?subscription={sub}", "POST")["Redriven"], 3)
            self.assertTrue(wait_until(lambda: len(failing.events()) >= 3, 10), failing.events())
            self.assertEqual(dead(), [])
        finally:
            failing.stop()

if __name__ == "__main__":
    unittest.main()
