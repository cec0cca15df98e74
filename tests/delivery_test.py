"""End-to-end delivery tests: Sesame delivers to real SMTP servers on loopback
(Postfix's smtp-sink and a fault-injecting sink), finding them through a real
DNS server (dnsmasq)."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from dns_helper import Dnsmasq
from harness import BINARY, Sesame, inject, metric, read_outcomes, wait_until
from sink import FaultSink

FAST_RETRY = "  retry: {first_seconds: 1, factor: 2, max_seconds: 2}\n"


def delivery_yaml(dns, mx_port, extra=""):
    return (f"delivery:\n  mode: smtp\n  resolver: {dns.address}\n  mx_port: {mx_port}\n"
            f"  timeouts: {{connect: 2, greeting: 5, ehlo: 5, mail: 5, rcpt: 5, data: 5, data_block: 5, "
            f"data_end: 5, idle: 2}}\n{FAST_RETRY}{extra}")


def queue_empty(server):
    return server.queue()[0] == []


@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class DeliveryToSmtpSink(unittest.TestCase):
    """Postfix's smtp-sink as the real remote MX."""

    def test_every_recipient_delivered_across_domains_with_reuse(self):
        if not shutil.which("smtp-sink"):
            self.skipTest("smtp-sink missing")
        dump = tempfile.mkdtemp(prefix="sink-dump-")
        os.chmod(dump, 0o777)
        from harness import free_port
        port = free_port()
        sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "-d", f"{dump}/%H%M%S.", f"127.0.0.2:{port}", "100"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import socket
        self.assertTrue(wait_until(lambda: socket.socket().connect_ex(("127.0.0.2", port)) == 0, 10))
        dns = Dnsmasq(mx=[("a.test", "mx.shared.test", 10), ("b.test", "mx.shared.test", 10),
                          ("c.test", "mx.other.test", 10)],
                      hosts=[("mx.shared.test", "127.0.0.2"), ("mx.other.test", "127.0.0.2")])
        server = Sesame(delivery=delivery_yaml(dns, port), relay=True).start()
        try:
            msgs = [(f"sender{i}@example.com", [f"u{i}@a.test", f"v{i}@b.test", f"w{i}@c.test"], f"m{i}")
                    for i in range(300)]
            ids = inject(server.ports["smtp"], msgs)
            self.assertEqual(len(ids), 300)
            self.assertTrue(wait_until(lambda: queue_empty(server), 60), server.queue()[0][:2])
            got = set()
            for path in glob.glob(f"{dump}/*"):
                with open(path, "rb") as f:
                    text = f.read().decode(errors="replace")
                sid = text.split("\tid ", 1)[1].split(";", 1)[0] if "\tid " in text else None
                for line in text.splitlines():
                    if line.startswith("X-Rcpt-Args: <"):
                        got.add((sid, line[len("X-Rcpt-Args: <"):].split(">")[0]))
            want = {(ids[i], r) for i, (_, rcpts, _) in enumerate(msgs) for r in rcpts}
            self.assertEqual(want - got, set(), "recipients not delivered")
            outcomes = read_outcomes(server.data_dir)
            delivered = [o for o in outcomes if o["outcome"] == "delivered"]
            self.assertEqual(len(delivered), 900)
            self.assertTrue(all(o["remoteMtaIp"] == "127.0.0.2" for o in delivered))
            self.assertEqual([o for o in outcomes if o["outcome"] != "delivered"], [])
            opened = metric(server.ports["http"], "sesame_delivery_connections_opened_total")
            attempts = metric(server.ports["http"], "sesame_delivery_attempts_total")
            # a.test and b.test share a site: jobs for both ride the same connections.
            self.assertLess(opened, attempts / 5, f"{opened} connections for {attempts} transactions")
            print(f"\nsmtp-sink: 900 recipients in {int(attempts)} transactions over {int(opened)} connections")
        finally:
            server.cleanup()
            sink.terminate()
            sink.wait()
            dns.stop()
            shutil.rmtree(dump, ignore_errors=True)


@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class DeliveryWithFaults(unittest.TestCase):
    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for c in reversed(self.cleanups):
            c()

    def start(self, sink_kwargs=None, extra="", mx=None, hosts=None, **dns_kwargs):
        sink = FaultSink(host="127.0.0.2", **(sink_kwargs or {})).start()
        self.cleanups.append(sink.stop)
        dns = Dnsmasq(mx=mx or [("dest.test", "mx.dest.test", 10), ("example.com", "mx.dest.test", 10)],
                      hosts=hosts or [("mx.dest.test", "127.0.0.2")], **dns_kwargs)
        self.cleanups.append(dns.stop)
        server = Sesame(delivery=delivery_yaml(dns, sink.port, extra), relay=True).start()
        self.cleanups.append(server.cleanup)
        return sink, dns, server

    def test_shaping_limits_measured_at_the_sink(self):
        extra = ("  shaping:\n    default: {max_connections: 10, messages_per_connection: 1000}\n"
                 "    rules: [{match: dest.test, max_connections: 2, rate_per_second: 25}]\n")
        sink, _, server = self.start(extra=extra)
        msgs = [("s@example.com", [f"r{i}@dest.test"], f"m{i}") for i in range(100)]
        ids = inject(server.ports["mx"] if False else server.ports["smtp"], msgs)
        self.assertEqual(len(ids), 100)
        self.assertTrue(wait_until(lambda: sink.count() >= 100, 30))
        self.assertLessEqual(sink.peak, 2)
        times = sorted(sink.times())
        # Token bucket: a burst of at most 25, then 25/s.
        span = times[-1] - times[0]
        self.assertGreater(span, (100 - 25) / 25 * 0.9, f"100 deliveries in {span:.2f}s exceeds 25/s")
        for i in range(len(times)):
            window = [t for t in times[i:] if t - times[i] < 1.0]
            self.assertLessEqual(len(window), 25 + 25 + 1)
        print(f"\nshaping: peak {sink.peak} connections, 100 deliveries over {span:.1f}s")

    def test_transient_faults_deliver_permanent_fail_nothing_lost(self):
        sink_kwargs = dict(rules=[("^perm", "550 5.1.1 no such user")], temp_first_attempts={"^temp": 2},
                           p_temp=0.05, p_drop_before_dot=0.03, p_drop_after_dot=0.03, p_stall=0.02,
                           stall_seconds=1.0, seed=7)
        sink, _, server = self.start(sink_kwargs)
        msgs = []
        for i in range(200):
            rcpts = [f"ok{i}@dest.test"]
            if i % 10 == 0:
                rcpts.append(f"perm{i}@dest.test")
            if i % 7 == 0:
                rcpts.append(f"temp{i}@dest.test")
            msgs.append((f"app{i}@example.com", rcpts, f"fault{i}"))
        ids = inject(server.ports["smtp"], msgs)
        self.assertEqual(len(ids), 200)
        self.assertTrue(wait_until(lambda: queue_empty(server), 90), f"still queued: {len(server.queue()[0])}")
        delivered = sink.pairs()
        want_ok = {(ids[i], r) for i, (_, rcpts, _) in enumerate(msgs) for r in rcpts if not r.startswith("perm")}
        self.assertEqual(want_ok - set(delivered), set(), "transient faults must end in delivery")
        dup = len(delivered) - len(set(delivered))
        self.assertLessEqual(dup, sink.dropped_after_dot * 3, "duplicates only where the reply was lost")
        outcomes = read_outcomes(server.data_dir)
        failed = {(o["messageId"], o["recipient"]) for o in outcomes if o["outcome"] == "failed"}
        want_failed = {(ids[i], f"perm{i}@dest.test") for i in range(0, 200, 10)}
        self.assertEqual(failed, want_failed)
        deferred = [o for o in outcomes if o["outcome"] == "deferred"]
        self.assertTrue(all(o["smtpResponse"] and o["nextAttempt"] for o in deferred))
        # Each failure produced one DSN to its sender, from the null sender.
        dsn_from = [m for m in sink.mail_from if m == ""]
        dsn_bodies = [b for b in sink.bodies.values() if b"multipart/report" in b]
        self.assertGreaterEqual(len(dsn_bodies), 20)
        self.assertTrue(all(b"Status: 5.1.1" in b and b"Action: failed" in b for b in dsn_bodies))
        self.assertGreaterEqual(len(dsn_from), 20)
        print(f"\nfaults: {len(set(delivered))} delivered, {len(failed)} failed, {len(deferred)} deferrals, "
              f"{sink.dropped_after_dot} replies lost after the dot, {dup} duplicates")

    def test_tls_policy_require_defers_when_peer_lacks_starttls(self):
        extra = "configuration_sets: [{name: secure, tls_policy: REQUIRE, max_delivery_seconds: 300}]\n"
        sink, _, server = self.start(extra=extra)  # the fault sink offers no STARTTLS
        from harness import RawSmtp
        s = RawSmtp(server.ports["smtp"])
        s.cmd("EHLO c")
        ids = []
        for cs, rcpt in (("secure", "tls@dest.test"), ("", "plain@dest.test")):
            s.cmd("MAIL FROM:<app@example.com>")
            s.cmd(f"RCPT TO:<{rcpt}>")
            s.cmd("DATA")
            header = f"X-SES-CONFIGURATION-SET: {cs}\r\n" if cs else ""
            s.send(f"{header}Subject: tls {cs}\r\n\r\nbody\r\n.\r\n")
            ids.append(s.reply()[1].split()[-1])
        self.assertTrue(wait_until(lambda: sink.count() >= 1, 10))
        self.assertTrue(wait_until(lambda: any(o["recipient"] == "tls@dest.test" for o in read_outcomes(server.data_dir)), 10))
        self.assertEqual([r for _, r in sink.pairs()], ["plain@dest.test"])
        tls = [o for o in read_outcomes(server.data_dir) if o["recipient"] == "tls@dest.test"]
        self.assertEqual(tls[0]["outcome"], "deferred")
        self.assertEqual(tls[0]["configurationSet"], "secure")
        self.assertTrue(tls[0]["smtpResponse"].startswith("454 4.7.5"), tls[0]["smtpResponse"])

    def test_backoff_rule_suspends_then_ramps(self):
        extra = ("  backoff: [{pattern: \"try again later\", suspend_seconds: 2, ramp_seconds: 1}]\n"
                 "  shaping:\n    default: {max_connections: 8}\n")
        # Every transaction takes 0.3 s at the sink, so more connections matter.
        sink, _, server = self.start(dict(temp_first_attempts={"^slow": 1}, p_stall=1.0, stall_seconds=0.3),
                                     extra=extra)
        inject(server.ports["smtp"], [("s@example.com", ["slow0@dest.test"], "first")])
        # The throttling reply suspends the site; mail queued meanwhile waits for it.
        self.assertTrue(wait_until(lambda: sink.rcpt_attempts.get("slow0@dest.test"), 20))
        t_throttled = time.time()
        inject(server.ports["smtp"], [("s@example.com", [f"x{i}@dest.test"], f"m{i}") for i in range(40)])
        self.assertTrue(wait_until(lambda: sink.count() >= 41, 40), sink.count())
        self.assertIn("suspended", server.read_log())
        log = [(t, n) for t, n in sink.active_log if t > t_throttled]
        resumed = log[0][0]
        self.assertGreaterEqual(resumed - t_throttled, 1.5, "the site was not suspended")
        # The ramp: one connection in the first ramp step, two in the second,
        # then doubling up to the shaping limit.
        first = max(n for t, n in log if t < resumed + 0.9)
        second = max(n for t, n in log if t < resumed + 1.9)
        self.assertEqual(first, 1, log)
        self.assertLessEqual(second, 2, log)
        self.assertGreaterEqual(max(n for _, n in log), 4, log)
        self.assertLessEqual(max(n for _, n in log), 8, log)
        print(f"\nramp: {[(round(t - resumed, 2), n) for t, n in log]}")

    def test_dns_preference_fallback_null_mx_nxdomain_and_timeout(self):
        sink_b = FaultSink(host="127.0.0.4").start()
        self.cleanups.append(sink_b.stop)
        mx = [("pref.test", "mx10.pref.test", 10), ("pref.test", "mx20.pref.test", 20),
              ("down.test", "mx10.down.test", 10), ("down.test", "mx20.down.test", 20)]
        hosts = [("mx10.pref.test", "127.0.0.2"), ("mx20.pref.test", "127.0.0.4"),
                 ("mx10.down.test", "127.0.0.3"), ("mx20.down.test", "127.0.0.4")]
        sink_a, dns, server = self.start(mx=mx, hosts=hosts, null_mx=["nullmx.test"], slow_domains=["slow.test"])
        # Both sinks must listen on the same port number: mx_port is global.
        self.assertNotEqual(sink_a.port, sink_b.port)
        sink_b.stop()
        sink_b = FaultSink(host="127.0.0.4", port=sink_a.port).start()
        self.cleanups.append(sink_b.stop)
        ids = inject(server.ports["smtp"], [
            ("s@example.com", ["a@pref.test"], "pref"),
            ("s@example.com", ["b@down.test"], "second-mx"),
            ("s@example.com", ["c@nullmx.test"], "null"),
            ("s@example.com", ["d@nothere.test"], "nx"),
            ("s@example.com", ["e@x.slow.test"], "slow"),
        ])
        self.assertEqual(len(ids), 5)
        self.assertTrue(wait_until(lambda: sink_a.count() >= 1 and sink_b.count() >= 1, 20))
        self.assertEqual([r for _, r in sink_a.pairs()], ["a@pref.test"])  # preference 10 wins
        self.assertIn("b@down.test", [r for _, r in sink_b.pairs()])     # 127.0.0.3 refuses: next MX
        want = {"a@pref.test", "b@down.test", "c@nullmx.test", "d@nothere.test", "e@x.slow.test"}
        self.assertTrue(wait_until(lambda: want <= {o["recipient"] for o in read_outcomes(server.data_dir)}, 30))
        by_rcpt = {}
        for o in read_outcomes(server.data_dir):
            by_rcpt.setdefault(o["recipient"], []).append(o)
        self.assertEqual(by_rcpt["c@nullmx.test"][0]["outcome"], "failed")
        self.assertIn("5.1.10", by_rcpt["c@nullmx.test"][0]["smtpResponse"])
        self.assertEqual(by_rcpt["d@nothere.test"][0]["outcome"], "failed")
        self.assertTrue(by_rcpt["d@nothere.test"][0]["smtpResponse"].startswith("550 5.1.2"))
        self.assertEqual(by_rcpt["e@x.slow.test"][0]["outcome"], "deferred")
        self.assertTrue(by_rcpt["e@x.slow.test"][0]["smtpResponse"].startswith("451 4.4.3"))


@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class SesameToSesame(unittest.TestCase):
    def test_opportunistic_starttls_and_pipelining_to_a_real_peer(self):
        receiver = Sesame().start()  # hold mode: what it receives stays queued for inspection
        dns = Dnsmasq(mx=[("bounces.sesame.test", "mx.receiver.test", 10)], hosts=[("mx.receiver.test", "127.0.0.1")])
        sender = Sesame(delivery=delivery_yaml(dns, receiver.ports["mx"]), relay=True).start()
        try:
            ids = inject(sender.ports["smtp"], [("app@example.com", ["a@bounces.sesame.test", "b@bounces.sesame.test"],
                                                 "hop")])
            self.assertTrue(wait_until(lambda: len(receiver.queue()[0]) == 1, 15))
            entry = receiver.queue()[0][0]
            self.assertEqual([r["Address"] for r in entry["Recipients"]], ["a@bounces.sesame.test",
                                                                           "b@bounces.sesame.test"])
            body = receiver.body_of(entry["MessageId"])
            # The receiver's Received header shows TLS; the sender's is below it.
            self.assertIn(b"with ESMTPS (TLSv1.3)", body.split(b"\r\n\r\n")[0])
            self.assertIn(f"id {ids[0]}".encode(), body)
            outcomes = read_outcomes(sender.data_dir)
            self.assertEqual({o["outcome"] for o in outcomes}, {"delivered"})
            self.assertTrue(all(o["tls"] for o in outcomes))
            self.assertTrue(all(o["smtpResponse"].startswith("250 2.0.0 Ok") for o in outcomes))
        finally:
            sender.cleanup()
            receiver.cleanup()
            dns.stop()


@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class Verp(unittest.TestCase):
    def test_verp_return_paths_map_bounces_back_and_forgeries_are_ignored(self):
        sink = FaultSink(host="127.0.0.2").start()
        dns = Dnsmasq(mx=[("dest.test", "mx.dest.test", 10)], hosts=[("mx.dest.test", "127.0.0.2")])
        server = Sesame(delivery=delivery_yaml(dns, sink.port, "  verp_domain: bounces.sesame.test\n"),
                        relay=True).start()
        try:
            ids = inject(server.ports["smtp"], [("app@example.com", ["one@dest.test", "two@dest.test"], "verp")])
            self.assertTrue(wait_until(lambda: sink.count() >= 2, 10))
            log = sink.transactions_log
            self.assertEqual(len(log), 2)  # one transaction per recipient
            by_rcpt = {rcpts[0]: mail for mail, rcpts, _ in log}
            for rcpt, mail in by_rcpt.items():
                self.assertRegex(mail, r"^b\+[a-z2-7]{50}@bounces\.sesame\.test$")
                self.assertLessEqual(len(mail.split("@")[0]), 64)
            self.assertNotEqual(by_rcpt["one@dest.test"], by_rcpt["two@dest.test"])
            # A bounce arrives at the MX for the second recipient's return path, and a forged one.
            from harness import RawSmtp
            forged = "b+" + "a" * 50 + "@bounces.sesame.test"
            for target in (by_rcpt["two@dest.test"], forged):
                s = RawSmtp(server.ports["mx"])
                s.cmd("EHLO remote.example")
                self.assertEqual(s.cmd("MAIL FROM:<>")[0], 250)
                self.assertEqual(s.cmd(f"RCPT TO:<{target}>")[0], 250)
                s.cmd("DATA")
                s.send(b"Subject: Undelivered Mail\r\n\r\nno such user\r\n.\r\n")
                self.assertEqual(s.reply()[0], 250)
                s.cmd("QUIT")
            def mapped():
                return [o for o in read_outcomes(server.data_dir) if o.get("outcome") in
                        ("bounce_received", "forged_bounce_ignored")]
            self.assertTrue(wait_until(lambda: len(mapped()) == 2, 10), mapped())
            got = {o["outcome"]: o for o in mapped()}
            self.assertEqual(got["bounce_received"]["messageId"], ids[0])
            self.assertEqual(got["bounce_received"]["recipientIndex"], 1)
            self.assertEqual(got["forged_bounce_ignored"]["to"], forged)
            # Inbound mail is consumed, never relayed.
            self.assertTrue(wait_until(lambda: server.queue()[0] == [], 10))
            self.assertEqual(sink.count(), 2)
        finally:
            server.cleanup()
            sink.stop()
            dns.stop()


@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class RelayFailover(unittest.TestCase):
    def test_failover_and_failback_within_one_interval(self):
        primary = FaultSink(host="127.0.0.2").start()
        backup = FaultSink(host="127.0.0.3").start()
        dns = Dnsmasq()
        extra = (f"routes:\n  - match: \"*.relay.test\"\n    hosts: [\"127.0.0.2:{primary.port}\", "
                 f"\"127.0.0.3:{backup.port}\"]\n    health_check: {{interval_seconds: 1, timeout_seconds: 1}}\n")
        server = Sesame(delivery=delivery_yaml(dns, 25) + extra, relay=True).start()
        try:
            inject(server.ports["smtp"], [("s@example.com", [f"p{i}@x.relay.test"], "p") for i in range(5)])
            self.assertTrue(wait_until(lambda: primary.count() >= 5, 10))
            self.assertEqual(backup.count(), 0)
            port = primary.port
            primary.stop()
            time.sleep(1.5)  # one health-check interval (plus slack)
            t0 = time.time()
            inject(server.ports["smtp"], [("s@example.com", [f"b{i}@x.relay.test"], "b") for i in range(5)])
            self.assertTrue(wait_until(lambda: backup.count() >= 5, 10))
            self.assertLess(time.time() - t0, 3, "mail did not move to the backup promptly")
            primary = FaultSink(host="127.0.0.2", port=port).start()
            time.sleep(2.5)  # health check sees it back; backup connections retire
            inject(server.ports["smtp"], [("s@example.com", [f"r{i}@x.relay.test"], "r") for i in range(5)])
            self.assertTrue(wait_until(lambda: primary.count() >= 5, 10), "traffic did not return to the primary")
            self.assertEqual(backup.count(), 5)
        finally:
            server.cleanup()
            primary.stop()
            backup.stop()
            dns.stop()


@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class DeadLetterQueue(unittest.TestCase):
    def test_dead_letter_list_show_redrive_purge(self):
        dns = Dnsmasq()
        extra = "routes:\n  - {match: broken.test, hosts: [\"nowhere.test:25\"]}\n"
        server = Sesame(delivery=delivery_yaml(dns, 25) + extra, relay=True).start()
        try:
            ids = inject(server.ports["smtp"], [("s@example.com", ["x@broken.test"], "dlq")])
            mid = ids[0]
            run = lambda *a: subprocess.run([BINARY, "dlq", *a, "--config", server.config_path],
                                            capture_output=True, text=True)
            self.assertTrue(wait_until(lambda: json.loads(run("list", "--json").stdout or "[]") != [], 10))
            entries = json.loads(run("list", "--json").stdout)
            table = run("list").stdout.splitlines()
            self.assertTrue(table[0].startswith("MESSAGE ID"), table)
            self.assertIn(mid, table[1])
            self.assertIn("x@broken.test", table[1])
            self.assertEqual(entries[0]["MessageId"], mid)
            self.assertIn("resolves nowhere", entries[0]["Reason"])
            self.assertEqual(entries[0]["Attempts"], 1)
            shown = run("show", mid)
            self.assertEqual(shown.returncode, 0)
            self.assertIn("x@broken.test", shown.stdout)
            self.assertEqual(run("show", "nope").returncode, 1)
            self.assertEqual(run("redrive").returncode, 2)  # needs an id or --all
            out = run("redrive", mid)
            self.assertEqual(json.loads(out.stdout), {"Redriven": 1})
            # Fresh attempts: the route is still broken, so it comes back with attempt 1.
            self.assertTrue(wait_until(lambda: json.loads(run("list", "--json").stdout or "[]") != [], 10))
            self.assertEqual(json.loads(run("list", "--json").stdout)[0]["Attempts"], 1)
            self.assertEqual(len([o for o in read_outcomes(server.data_dir) if o["outcome"] == "dead_letter"]), 2)
            self.assertEqual(json.loads(run("purge", "--all").stdout), {"Purged": 1})
            self.assertEqual(json.loads(run("list", "--json").stdout), [])
            self.assertIn("the dead-letter queue is empty", run("list").stdout)
            self.assertTrue(wait_until(lambda: server.queue()[0] == [], 5))
        finally:
            server.cleanup()
            dns.stop()


if __name__ == "__main__":
    unittest.main()
