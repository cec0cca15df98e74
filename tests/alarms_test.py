"""Alarms, reputation and sending statistics end to end: a burst of bounces
from the fault sink fires an alarm (the topic's webhook gets CloudWatch's
notification, the configuration set is paused, further sends get
SendingPausedException or an SMTP 554), an operator re-enables sending; the
account's reputation falls to SHUTDOWN and pauses it the same way."""
import json
import os
import smtplib
import unittest
import urllib.request

from dns_helper import Dnsmasq
from harness import Sesame, aws_clients, inject, wait_until
from sink import FaultSink
from webhook import Receiver, verify_sns_signature

try:
    import boto3
except ImportError:  # pragma: no cover
    boto3 = None


@unittest.skipUnless(boto3 and os.path.exists("/usr/sbin/dnsmasq"), "boto3 or dnsmasq missing")
class Alarms(unittest.TestCase):
    def setUp(self):
        self.sink = FaultSink(host="127.0.0.2", rules=[(r"^hard", "550 5.1.1 <hard@dest.test>: User unknown")]).start()
        self.dns = Dnsmasq(mx=[("dest.test", "mx.dest.test", 10)], hosts=[("mx.dest.test", "127.0.0.2")])
        self.receiver = Receiver().start()
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.cleanup()
        self.receiver.stop()
        self.sink.stop()
        self.dns.stop()

    def start(self, extra):
        self.server = Sesame(delivery=(
            f"delivery:\n  mode: smtp\n  resolver: {self.dns.address}\n  mx_port: {self.sink.port}\n"
            "api: {auto_verify: true}\n"
            "configuration_sets:\n  - name: risky\n"
            "events:\n  topics:\n    - name: alarms\n      subscriptions:\n"
            f"        - {{protocol: http, endpoint: \"{self.receiver.url}\", confirm: false}}\n" + extra),
            relay=True).start()
        return aws_clients(self.server, "sesv2", "ses")

    def admin(self, path):
        return self.server.admin(path)

    def smtp_send(self, rcpt, config_set=None):
        c = smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=10)
        try:
            headers = f"X-SES-CONFIGURATION-SET: {config_set}\r\n" if config_set else ""
            c.sendmail("app@example.com", [rcpt],
                       f"From: app@example.com\r\nTo: {rcpt}\r\nSubject: s\r\n{headers}\r\nbody\r\n".encode())
        finally:
            c.quit()

    def api_send(self, v2, config_set="risky"):
        extra = {"ConfigurationSetName": config_set} if config_set else {}
        return v2.send_email(FromEmailAddress="app@example.com", Destination={"ToAddresses": ["ok@dest.test"]},
                             Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
                             **extra)

    def test_bounce_rate_alarm_notifies_and_pauses_the_configuration_set(self):
        v2, v1 = self.start(
            "alarms:\n  - name: risky-bounces\n    metric: bounce_rate\n    statistic: Average\n"
            "    period_seconds: 60\n    threshold: 0.1\n    comparison: GreaterThanThreshold\n"
            "    configuration_set: risky\n    actions: [{topic: alarms}, {pause_configuration_set: risky}]\n")
        states = self.admin("/admin/alarms")
        self.assertEqual(states[0]["StateValue"], "INSUFFICIENT_DATA")
        self.api_send(v2)  # a healthy start
        self.assertTrue(wait_until(lambda: self.admin("/admin/alarms")[0]["StateValue"] == "OK", 10),
                        self.admin("/admin/alarms"))
        inject(self.server.ports["smtp"], [("app@example.com", [f"hard{i}@dest.test"], f"b{i}",
                                            "X-SES-CONFIGURATION-SET: risky") for i in range(10)])
        # The alarm fires and its topic's subscriber hears of it, signed.
        self.assertTrue(wait_until(lambda: self.receiver.messages(), 15), self.admin("/admin/alarms"))
        msg = self.receiver.messages()[0]
        self.assertTrue(msg["Subject"].startswith('ALARM: "risky-bounces"'))
        self.assertTrue(verify_sns_signature(msg))
        note = json.loads(msg["Message"])
        self.assertEqual((note["AlarmName"], note["NewStateValue"], note["OldStateValue"]),
                         ("risky-bounces", "ALARM", "OK"))
        self.assertEqual(note["Trigger"]["MetricName"], "bounce_rate")
        self.assertEqual(self.admin("/admin/alarms")[0]["StateValue"], "ALARM")
        history = self.admin("/admin/alarms/history")
        self.assertEqual([(h["oldState"], h["newState"]) for h in history if h["kind"] == "alarm"],
                         [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM")])
        # The configuration set is paused: the API and SMTP refuse its mail.
        self.assertTrue(wait_until(lambda: self._paused(v2), 10))
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.smtp_send("ok@dest.test", "risky")
        self.assertEqual(cm.exception.smtp_code, 554)
        self.assertIn(b"paused", cm.exception.smtp_error)
        self.smtp_send("ok@dest.test")  # other mail still goes
        # An operator re-enables it.
        v2.put_configuration_set_sending_options(ConfigurationSetName="risky", SendingEnabled=True)
        self.assertIn("MessageId", self.api_send(v2))
        self.smtp_send("ok@dest.test", "risky")
        # Statistics: GetSendStatistics and the admin series saw the bounces.
        points = v1.get_send_statistics()["SendDataPoints"]
        self.assertGreaterEqual(sum(p["Bounces"] for p in points), 10)
        self.assertGreaterEqual(sum(p["DeliveryAttempts"] for p in points), 11)
        series = self.admin("/admin/stats?resolution=minute&scope=cs:risky")
        self.assertGreaterEqual(sum(p["bounces"] for p in series["points"]), 10)
        self.assertIn("cs:risky", series["scopes"])

    def _paused(self, v2):
        try:
            self.api_send(v2)
            return False
        except v2.exceptions.SendingPausedException:
            return True

    def test_reputation_shutdown_pauses_the_account_until_re_enabled(self):
        v2, _ = self.start("reputation: {min_sends: 10}\n")
        self.assertEqual(v2.get_account()["EnforcementStatus"], "HEALTHY")
        inject(self.server.ports["smtp"], [("app@example.com", [f"hard{i}@dest.test"], f"b{i}") for i in range(12)])
        self.assertTrue(wait_until(lambda: v2.get_account()["EnforcementStatus"] == "SHUTDOWN", 15),
                        v2.get_account())
        self.assertTrue(wait_until(lambda: not v2.get_account()["SendingEnabled"], 5))
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.smtp_send("ok@dest.test")
        self.assertIn(b"Sending is paused for this account", cm.exception.smtp_error)
        with self.assertRaises(v2.exceptions.SendingPausedException):
            self.api_send(v2, config_set=None)
        history = self.admin("/admin/alarms/history")
        self.assertIn(("reputation", "account", "SHUTDOWN"),
                      [(h["kind"], h["name"], h["newState"]) for h in history])
        v2.put_account_sending_attributes(SendingEnabled=True)
        self.smtp_send("ok@dest.test")
        self.assertTrue(v2.get_account()["SendingEnabled"])


if __name__ == "__main__":
    unittest.main()
