"""Shutdown in bounded time, whatever the queue: SIGTERM exits within 5 s with
50,000 queued and 20 sessions mid-DATA; what was acknowledged is there after
a restart and nothing unacknowledged was half-committed. A second signal, or
a shutdown that hangs, exits at once."""

import os
import shutil
import signal
import subprocess
import time
import unittest

from dns_helper import Dnsmasq
from harness import RawSmtp, Sesame, metric, wait_until

QUEUED = 50000


def queued(server):
    return metric(server.ports["http"], "sesame_delivery_messages") or 0


@unittest.skipUnless(shutil.which("smtp-source"), "smtp-source missing")
@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class Shutdown(unittest.TestCase):
    def setUp(self):
        self.dns = Dnsmasq()
        self.addCleanup(self.dns.stop)
        # Port 9 on loopback refuses: the site is down and its queue parked.
        delivery = (f"delivery:\n  mode: smtp\n  resolver: {self.dns.address}\n"
                    f"routes:\n  - {{match: dead.test, hosts: [\"127.0.0.1:9\"]}}\n")
        self.server = Sesame(delivery=delivery, relay=True, env={"SESAME_DEBUG_HOOKS": "1"}).start()
        self.addCleanup(self.server.cleanup)

    def fill(self, n):
        out = subprocess.run(["smtp-source", "-c", "-s", "20", "-m", str(n), "-l", "1000",
                              "-f", "s@example.com", "-t", "r@dead.test",
                              f"127.0.0.1:{self.server.ports['smtp']}"],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(wait_until(lambda: queued(self.server) >= n, 60))

    def open_mid_data(self, sessions):
        """Sessions that each had one message acknowledged, then stopped
        halfway through the next one's DATA."""
        acked, open_ = [], []
        for i in range(sessions):
            s = RawSmtp(self.server.ports["smtp"])
            s.cmd("EHLO shutdown.test")
            for half in (False, True):
                s.cmd("MAIL FROM:<s@example.com>")
                s.cmd(f"RCPT TO:<mid{i}@dead.test>")
                self.assertEqual(s.cmd("DATA")[0], 354)
                s.send(f"Subject: mid {i}\r\nFrom: <s@example.com>\r\n\r\n" + ("x" * 76 + "\r\n") * 60)
                if half:
                    break
                s.send(".\r\n")
                code, text = s.reply()
                self.assertEqual(code, 250)
                acked.append(text.split()[-1])
            open_.append(s)
        return acked, open_

    def test_sigterm_with_a_backlog_and_sessions_mid_data(self):
        self.fill(QUEUED)
        acked, sessions = self.open_mid_data(20)
        t0 = time.time()
        self.server.proc.send_signal(signal.SIGTERM)
        rc = self.server.proc.wait(30)
        took = time.time() - t0
        self.assertLessEqual(took, 5, f"SIGTERM to exit: {took:.1f} s")
        self.assertEqual(rc, 0, self.server.read_log()[-2000:])
        for s in sessions:
            s.close()
        self.server.start()
        # Every acknowledged message is back, and no half message was committed.
        self.assertTrue(wait_until(lambda: queued(self.server) >= QUEUED + len(acked), 60))
        time.sleep(1)
        self.assertEqual(queued(self.server), QUEUED + len(acked))
        ids = set(self.server.queued_ids())
        self.assertTrue(set(acked) <= ids)
        self.assertEqual(self.server.recovery_report()["quarantined"], 0)

    def test_a_second_signal_or_a_hung_shutdown_exits_at_once(self):
        self.fill(1000)
        # The engine is held busy, so a graceful stop would wait for it.
        self.server.admin("/admin/debug/hold-engine?ms=60000", method="POST")
        time.sleep(0.5)  # the hold is posted behind the engine's own work
        self.server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        self.assertIsNone(self.server.proc.poll())  # still stopping
        t0 = time.time()
        self.server.proc.send_signal(signal.SIGINT)
        rc = self.server.proc.wait(10)
        self.assertLess(time.time() - t0, 1)
        self.assertEqual(rc, 128 + signal.SIGINT)
        self.server.start()
        self.assertTrue(wait_until(lambda: queued(self.server) >= 1000, 30))
        # With one signal only, the watchdog ends a hung shutdown.
        self.server.admin("/admin/debug/hold-engine?ms=60000", method="POST")
        time.sleep(0.5)
        t0 = time.time()
        self.server.proc.send_signal(signal.SIGTERM)
        rc = self.server.proc.wait(10)
        self.assertLessEqual(time.time() - t0, 5)
        self.assertEqual(rc, 1)
        self.assertIn("shutdown still running", self.server.read_log())
        self.server.start()
        self.assertTrue(wait_until(lambda: queued(self.server) >= 1000, 30))


if __name__ == "__main__":
    unittest.main()
