"""The feedback loop end to end: a sink rejects, bounces arrive later as DSNs
(Sisimai samples rewritten to carry real VERP addresses) and complaints as ARF
at the MX listener; the recipients land on the suppression list (read back
with boto3), and the next send to them is accepted but not delivered."""
import json
import os
import unittest
import urllib.request

from dns_helper import Dnsmasq
from harness import RawSmtp, Sesame, aws_clients, inject, metric, read_outcomes, wait_until
from sink import FaultSink
from webhook import Receiver, verify_sns_signature

try:
    import boto3
except ImportError:  # pragma: no cover
    boto3 = None

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "corpora", "bounces",
                      "sisimai", "maildir", "bsd")


def sample(name, replacements):
    with open(os.path.join(CORPUS, name), "rb") as f:
        text = f.read().decode("utf-8", "replace")
    for old, new in replacements:
        assert old in text, (name, old)
        text = text.replace(old, new)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def send_to_mx(port, rcpt, data):
    s = RawSmtp(port)
    s.cmd("EHLO remote.example")
    assert s.cmd("MAIL FROM:<>")[0] == 250
    code = s.cmd(f"RCPT TO:<{rcpt}>")[0]
    assert code == 250, code
    s.cmd("DATA")
    s.send(data.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
    assert s.reply()[0] == 250
    s.cmd("QUIT")


@unittest.skipUnless(boto3 and os.path.exists("/usr/sbin/dnsmasq") and os.path.isdir(CORPUS),
                     "boto3, dnsmasq or the corpus missing")
class FeedbackLoop(unittest.TestCase):
    def test_bounces_and_complaints_suppress_and_the_next_send_is_not_delivered(self):
        sink = FaultSink(host="127.0.0.2", rules=[(r"^hard", "550 5.1.1 <hard@dest.test>: User unknown"),
                                                  (r"^defer", "452 4.2.2 Mailbox full, try later")]).start()
        dns = Dnsmasq(mx=[("dest.test", "mx.dest.test", 10)], hosts=[("mx.dest.test", "127.0.0.2")])
        receiver = Receiver().start()
        server = Sesame(delivery=(f"delivery:\n  mode: smtp\n  resolver: {dns.address}\n  mx_port: {sink.port}\n"
                                  "  verp_domain: bounces.sesame.test\n"
                                  "  retry: {first_seconds: 1, factor: 2, max_seconds: 2}\n"
                                  "configuration_sets:\n  - name: feedback\n    event_destinations:\n"
                                  "      - {name: hook, topic: feedback, "
                                  "matching_event_types: [BOUNCE, COMPLAINT, DELIVERY_DELAY]}\n"
                                  "events:\n  topics:\n    - name: feedback\n      subscriptions:\n"
                                  f"        - {{protocol: http, endpoint: \"{receiver.url}\"}}\n"),
                        relay=True).start()
        try:
            v2 = aws_clients(server, "sesv2")

            def suppressed():
                out = v2.list_suppressed_destinations()["SuppressedDestinationSummaries"]
                return {d["EmailAddress"]: d["Reason"] for d in out}

            rcpts = ["hard@dest.test", "later@dest.test", "full@dest.test", "complainer@dest.test",
                     "defer@dest.test"]
            ids = inject(server.ports["smtp"], [("app@example.com", rcpts, "first",
                                                  "X-SES-CONFIGURATION-SET: feedback")])
            self.assertTrue(wait_until(lambda: sink.count() >= 3, 15), sink.count())
            # The synchronous 5.1.1 is a hard bounce: suppressed at once.
            self.assertTrue(wait_until(lambda: suppressed().get("hard@dest.test") == "BOUNCE", 10), suppressed())
            detail = v2.get_suppressed_destination(EmailAddress="hard@dest.test")["SuppressedDestination"]
            self.assertEqual(detail["Attributes"]["MessageId"], ids[0])
            verp = {rcpts[0]: mail for mail, rcpts, _ in sink.transactions_log}

            # A Postfix DSN for later@ arrives days later at its VERP address.
            send_to_mx(server.ports["mx"], verp["later@dest.test"],
                       sample("lhost-postfix-04.eml", [("kijitora@example.co.jp", "later@dest.test")]))
            # A mailbox-full DSN for full@ is soft: no suppression.
            send_to_mx(server.ports["mx"], verp["full@dest.test"],
                       sample("lhost-postfix-13.eml", [("noraneko@example.jp", "full@dest.test")]))
            # A forged VERP token naming another address is ignored.
            send_to_mx(server.ports["mx"], "b+" + "a" * 50 + "@bounces.sesame.test",
                       sample("lhost-postfix-04.eml", [("kijitora@example.co.jp", "forged@dest.test")]))
            # An ARF complaint reaches the feedback address; the quoted original's
            # Return-Path (our VERP address) names the message.
            send_to_mx(server.ports["mx"], "abuse@isp.fbl.sesame.test",
                       sample("arf-01.eml", [("redacted@example.net", "complainer@dest.test"),
                                             ("<support@example.ed.jp>", "<" + verp["complainer@dest.test"] + ">")]))
            self.assertTrue(wait_until(lambda: {"later@dest.test", "complainer@dest.test"} <= set(suppressed()), 10),
                            suppressed())
            got = suppressed()
            self.assertEqual(got["later@dest.test"], "BOUNCE")
            self.assertEqual(got["complainer@dest.test"], "COMPLAINT")
            self.assertNotIn("full@dest.test", got)
            self.assertNotIn("forged@dest.test", got)
            outcomes = read_outcomes(server.data_dir)
            kinds = sorted(o["outcome"] for o in outcomes if "inboundMessageId" in o)
            self.assertEqual(kinds, ["bounce_received", "bounce_received", "complaint_received",
                                     "forged_bounce_ignored"])
            self.assertTrue(all(o["messageId"] == ids[0] for o in outcomes
                                if o.get("outcome") in ("bounce_received", "complaint_received")))

            # The same feedback as SES events at the webhook, signed.
            def events_for(address):
                out = []
                for e in receiver.events():
                    for key, field in (("bounce", "bouncedRecipients"), ("complaint", "complainedRecipients"),
                                       ("deliveryDelay", "delayedRecipients")):
                        if any(r["emailAddress"] == address for r in e.get(key, {}).get(field, [])):
                            out.append(e)
                return out
            self.assertTrue(wait_until(lambda: all(events_for(a) for a in rcpts), 15),
                            {a: len(events_for(a)) for a in rcpts})
            hard = events_for("hard@dest.test")[0]["bounce"]
            self.assertEqual((hard["bounceType"], hard["bounceSubType"]), ("Permanent", "NoEmail"))
            later = events_for("later@dest.test")[0]["bounce"]
            self.assertEqual((later["bounceType"], later["bounceSubType"]), ("Permanent", "NoEmail"))
            self.assertEqual(later["bouncedRecipients"][0]["status"], "5.1.1")
            full = [e for e in events_for("full@dest.test") if e["eventType"] == "Bounce"][0]["bounce"]
            self.assertEqual((full["bounceType"], full["bounceSubType"]), ("Transient", "MailboxFull"))
            complaint = events_for("complainer@dest.test")[0]
            self.assertEqual(complaint["eventType"], "Complaint")
            self.assertEqual(complaint["complaint"]["complaintFeedbackType"], "abuse")
            self.assertEqual(complaint["mail"]["messageId"], ids[0])
            delay = events_for("defer@dest.test")[0]
            self.assertEqual(delay["eventType"], "DeliveryDelay")
            self.assertEqual(delay["deliveryDelay"]["delayType"], "MailboxFull")
            self.assertTrue(all(verify_sns_signature(m) for m in receiver.messages()))

            # The next send: accepted, but only the unsuppressed recipient is delivered.
            before = sink.count()
            second = inject(server.ports["smtp"], [("app@example.com", rcpts[:2] + [rcpts[3], "fresh@dest.test"],
                                                    "second", "X-SES-CONFIGURATION-SET: feedback")])[0]
            def results():
                return {o["recipient"]: o["outcome"] for o in read_outcomes(server.data_dir)
                        if o.get("messageId") == second and "recipient" in o}
            self.assertTrue(wait_until(lambda: len(results()) == 4, 15), results())
            results = results()
            self.assertEqual(sink.count(), before + 1)
            # SES reports the suppressed recipients as a bounce of its own kind.
            self.assertTrue(wait_until(lambda: any(
                e.get("bounce", {}).get("bounceSubType") == "OnAccountSuppressionList"
                and e["mail"]["messageId"] == second for e in receiver.events()), 10))
            suppressed_event = [e for e in receiver.events() if e["mail"]["messageId"] == second][0]["bounce"]
            self.assertEqual(sorted(r["emailAddress"] for r in suppressed_event["bouncedRecipients"]),
                             ["complainer@dest.test", "hard@dest.test", "later@dest.test"])
            self.assertEqual(results, {"hard@dest.test": "suppressed", "later@dest.test": "suppressed",
                                       "complainer@dest.test": "suppressed", "fresh@dest.test": "delivered"})
            self.assertEqual(metric(server.ports["http"], "sesame_delivery_suppressed_total"), 3)
            self.assertEqual(metric(server.ports["http"], 'sesame_feedback_inbound_total{kind="forged"}'), 1)

            # Message search: one message's timeline, and one recipient's across messages.
            def search(q):
                return server.admin(f"/admin/messages?{q}")
            first = search(f"id={ids[0]}")["records"]
            outcomes_first = {(o.get("recipient") or o.get("to"), o["outcome"]) for o in first}
            self.assertIn(("hard@dest.test", "failed"), outcomes_first)
            self.assertIn(("later@dest.test", "delivered"), outcomes_first)
            self.assertTrue(any(o["outcome"] == "complaint_received" for o in first), first)
            hard = search("recipient=hard%40dest.test")["records"]
            self.assertEqual({o["messageId"] for o in hard}, {ids[0], second})
            self.assertEqual([o["outcome"] for o in hard if o["messageId"] == second], ["suppressed"])

            # A configuration set that turns suppression off delivers anyway.
            v2.create_configuration_set(ConfigurationSetName="nosuppress",
                                        SuppressionOptions={"SuppressedReasons": []})
            third = inject(server.ports["smtp"], [("app@example.com", ["later@dest.test"], "third",
                                                   "X-SES-CONFIGURATION-SET: nosuppress")])[0]
            self.assertTrue(wait_until(lambda: any(o.get("messageId") == third and o.get("outcome") == "delivered"
                                                   for o in read_outcomes(server.data_dir)), 15))
            # Removing an address from the list lets it through again.
            v2.delete_suppressed_destination(EmailAddress="complainer@dest.test")
            fourth = inject(server.ports["smtp"], [("app@example.com", ["complainer@dest.test"], "fourth")])[0]
            self.assertTrue(wait_until(lambda: any(o.get("messageId") == fourth and o.get("outcome") == "delivered"
                                                   for o in read_outcomes(server.data_dir)), 15))
        finally:
            server.cleanup()
            receiver.stop()
            sink.stop()
            dns.stop()


if __name__ == "__main__":
    unittest.main()
