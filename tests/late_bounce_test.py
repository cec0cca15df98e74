"""A bounce that arrives after the message was delivered and left the queue
(the normal case for asynchronous DSNs) still becomes a Bounce event at the
configuration set's destination, for mail sent through the API
(ConfigurationSetName) and through SMTP (X-SES-CONFIGURATION-SET)."""
import os
import smtplib
import unittest

from feedback_loop_test import CORPUS, sample, send_to_mx
from harness import Sesame, aws_clients, tls_client_context, wait_until
from sink import FaultSink
from webhook import Receiver

try:
    import boto3
except ImportError:  # pragma: no cover
    boto3 = None


def late_server(receiver, sink, delivery_extra=""):
    """Delivery to `sink` for dest.test; Delivery and Bounce events of the
    configuration set "late" to `receiver`."""
    return Sesame(delivery=(
        f"delivery:\n  mode: smtp\n{delivery_extra}"
        "configuration_sets:\n  - name: late\n    event_destinations:\n"
        "      - {name: hook, topic: late, matching_event_types: [DELIVERY, BOUNCE]}\n"
        "events:\n  topics:\n    - name: late\n      subscriptions:\n"
        f"        - {{protocol: http, endpoint: \"{receiver.url}\"}}\n"
        "api: {auto_verify: true}\n"
        f"routes:\n  - {{match: dest.test, hosts: [\"127.0.0.2:{sink.port}\"]}}\n")).start()


@unittest.skipUnless(boto3 and os.path.isdir(CORPUS), "boto3 or the corpus missing")
class LateBounce(unittest.TestCase):
    def test_late_dsn_produces_a_bounce_event(self):
        sink = FaultSink(host="127.0.0.2").start()
        receiver = Receiver().start()
        server = late_server(receiver, sink, "  verp_domain: bounces.sesame.test\n")
        try:
            v2 = aws_clients(server, "sesv2")
            api_id = v2.send_email(FromEmailAddress="app@example.com", ConfigurationSetName="late",
                                   Destination={"ToAddresses": ["api@dest.test"]},
                                   Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}
                                   )["MessageId"]
            c = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
            c.starttls(context=tls_client_context())
            c.login("app", "app-secret")
            reply = c.sendmail("app@example.com", ["smtp@dest.test"],
                               "From: app@example.com\r\nTo: smtp@dest.test\r\nSubject: s\r\n"
                               "X-SES-CONFIGURATION-SET: late\r\n\r\nbody\r\n")
            self.assertEqual(reply, {})
            c.quit()

            def of(kind):
                return {e["mail"]["messageId"]: e for e in receiver.events() if e.get("eventType") == kind}
            self.assertTrue(wait_until(lambda: len(of("Delivery")) == 2, 20), receiver.events())
            smtp_id = next(i for i in of("Delivery") if i != api_id)
            # Delivered and gone from the queue.
            self.assertTrue(wait_until(lambda: server.queue()[0] == [], 10), server.queue())
            verp = {rcpts[0]: mail for mail, rcpts, _ in sink.transactions_log}
            self.assertTrue(all(v.endswith("@bounces.sesame.test") for v in verp.values()), verp)
            # SES's instruction headers do not leave: the recipient never
            # sees the configuration set (or an application's tags).
            for data in sink.bodies.values():
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
                self.assertNotIn("x-ses-configuration-set", text.lower())
                self.assertIn("subject:", text.lower())
            for rcpt in ("api@dest.test", "smtp@dest.test"):
                send_to_mx(server.ports["mx"], verp[rcpt],
                           sample("lhost-postfix-04.eml", [("kijitora@example.co.jp", rcpt)]))
            self.assertTrue(wait_until(lambda: {api_id, smtp_id} <= set(of("Bounce")), 15),
                            [e.get("eventType") for e in receiver.events()])
            for mid, rcpt in ((api_id, "api@dest.test"), (smtp_id, "smtp@dest.test")):
                bounce = of("Bounce")[mid]
                self.assertEqual(bounce["bounce"]["bouncedRecipients"][0]["emailAddress"], rcpt)
                self.assertEqual(bounce["bounce"]["bounceType"], "Permanent")
                self.assertEqual(bounce["mail"]["tags"]["ses:configuration-set"], ["late"])
        finally:
            server.cleanup()
            receiver.stop()
            sink.stop()


    def test_dsn_without_verp_names_only_the_addresses_sent_to(self):
        """A DSN matched by the quoted Message-ID: a forwarding target's report
        stands for the Original-Recipient, an X.400 recipient for the RFC 822
        address inside, and an address the message was not sent to is never
        reported as bounced."""
        sink = FaultSink(host="127.0.0.2").start()
        receiver = Receiver().start()
        server = late_server(receiver, sink)
        try:
            v2 = aws_clients(server, "sesv2")
            mid = v2.send_email(FromEmailAddress="app@example.com", ConfigurationSetName="late",
                                Destination={"ToAddresses": ["a@dest.test", "b@dest.test", "c@dest.test"]},
                                Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}
                                )["MessageId"]
            events = lambda kind: [e for e in receiver.events() if e.get("eventType") == kind]
            self.assertTrue(wait_until(lambda: events("Delivery"), 20), receiver.events())
            dsn = ("From: MAILER-DAEMON@forward.example\r\nTo: app@example.com\r\n"
                   "Subject: Undelivered Mail Returned to Sender\r\n"
                   "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
                   "--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
                   "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; forward.example\r\n\r\n"
                   "Final-Recipient: rfc822; inbox@forward.example\r\nOriginal-Recipient: rfc822; a@dest.test\r\n"
                   "Action: failed\r\nStatus: 5.2.1\r\nDiagnostic-Code: smtp; 550 5.2.1 mailbox disabled\r\n\r\n"
                   "Final-Recipient: x400; /C=US/ADMD=X/PRMD=DEST/RFC-822=b(a)dest.test/\r\n"
                   "Action: failed\r\nStatus: 5.1.1\r\n\r\n"
                   "Final-Recipient: rfc822; stranger@else.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
                   "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
                   f"Message-ID: <{mid}@email.amazonses.com>\r\nFrom: app@example.com\r\n"
                   "To: a@dest.test, b@dest.test, c@dest.test\r\n\r\n--B--\r\n")
            send_to_mx(server.ports["mx"], "postmaster@bounces.sesame.test", dsn.encode())
            self.assertTrue(wait_until(lambda: len(events("Bounce")) >= 2, 15),
                            [e.get("eventType") for e in receiver.events()])
            import time
            time.sleep(1)  # nothing more may follow
            bounced = sorted(r["emailAddress"] for e in events("Bounce")
                             for r in e["bounce"]["bouncedRecipients"])
            self.assertEqual(bounced, ["a@dest.test", "b@dest.test"])
            self.assertTrue(all(e["mail"]["messageId"] == mid for e in events("Bounce")))
        finally:
            server.cleanup()
            receiver.stop()
            sink.stop()

if __name__ == "__main__":
    unittest.main()
