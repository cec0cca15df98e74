"""A dead destination costs nothing: when every host of a site refuses, the
site is suspended for its back-off interval and probed by one connection;
its queued messages are not attempted one by one, and they all go out once a
probe finds the host again."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from dns_helper import Dnsmasq
from harness import Sesame, metric, read_outcomes, wait_until
from sink import FaultSink

MESSAGES = 50000


class ClosingListener:
    """Accepts and closes at once (no greeting), counting the connections:
    the engine's attempts at the site."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.attempts = 0
        self.running = True
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.attempts += 1
            c.close()

    def stop(self):
        if not self.running:
            return
        self.running = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@unittest.skipUnless(shutil.which("smtp-source"), "smtp-source missing")
@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class SuspendedSite(unittest.TestCase):
    def start_with_dead_route(self, dead, dns, delivery_extra):
        """A server whose only route, dead.test, goes to `dead`."""
        delivery = (f"delivery:\n  mode: smtp\n  resolver: {dns.address}\n{delivery_extra}"
                    f"  timeouts: {{connect: 2, greeting: 2, ehlo: 5, mail: 5, rcpt: 5, data: 5, "
                    f"data_block: 5, data_end: 5, idle: 2}}\n"
                    f"routes:\n  - {{match: dead.test, hosts: [\"127.0.0.1:{dead.port}\"]}}\n")
        return Sesame(delivery=delivery, relay=True).start()

    def inject(self, server, count, sessions):
        out = subprocess.run(["smtp-source", "-c", "-s", str(sessions), "-m", str(count), "-l", "200",
                              "-f", "s@example.com", "-t", "r@dead.test",
                              f"127.0.0.1:{server.ports['smtp']}"],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_a_refusing_route_is_probed_not_tried_per_message(self):
        dead = ClosingListener()
        dns = Dnsmasq()
        server = self.start_with_dead_route(
            dead, dns, "  retry: {first_seconds: 2, factor: 2, max_seconds: 4}\n")
        try:
            self.inject(server, MESSAGES, 20)
            self.assertTrue(wait_until(
                lambda: (metric(server.ports["http"], "sesame_delivery_messages") or 0) >= MESSAGES, 60))
            self.assertTrue(wait_until(
                lambda: metric(server.ports["http"], "sesame_delivery_sites_down") == 1, 30))
            # Settle past the injection, then watch a window of back-off intervals.
            time.sleep(2)
            attempts0, lines0 = dead.attempts, len(read_outcomes(server.data_dir))
            cpu0, t0 = cpu_seconds(server.proc.pid), time.time()
            time.sleep(16)
            window = time.time() - t0
            attempts = dead.attempts - attempts0
            lines = len(read_outcomes(server.data_dir)) - lines0
            cpu = cpu_seconds(server.proc.pid) - cpu0
            if os.environ.get("VERBOSE"):
                print(f"\n{attempts} probes, {lines} outcome lines, {cpu:.2f} s CPU in {window:.1f} s",
                      flush=True)
            # Retry n waits at least 1 s (full jitter): at most one probe a
            # second, one outcome line per probe, never one per message.
            self.assertGreaterEqual(attempts, 1)
            self.assertLessEqual(attempts, window + 1)
            self.assertLessEqual(lines, attempts + 1)
            self.assertLess(len(read_outcomes(server.data_dir)), 1000)
            self.assertLess(cpu / window, 0.10, f"{cpu:.2f} s of CPU in {window:.0f} s")
            # The parked messages say why they wait.
            sites = server.admin("/admin/queues")["sites"]
            site = [s for s in sites if "dead.test" in s["site"]][0]
            self.assertTrue(site["down"])
            self.assertIn("no reachable host", site["lastError"])
            self.assertGreater(site["ready"], MESSAGES - 1000)
            self.assertEqual(metric(server.ports["http"], "sesame_delivery_parked_jobs"), site["ready"])
            # The host comes back: a probe finds it and the backlog drains.
            port = dead.port
            dead.stop()
            sink = FaultSink(port=port).start()
            try:
                self.assertTrue(wait_until(lambda: sink.count() >= MESSAGES, 240),
                                f"{sink.count()} of {MESSAGES} delivered")
                self.assertTrue(wait_until(
                    lambda: metric(server.ports["http"], "sesame_delivery_sites_down") == 0, 10))
            finally:
                sink.stop()
        finally:
            server.cleanup()
            dead.stop()
            dns.stop()

    def test_parked_messages_expire_at_their_own_lifetime(self):
        """Jobs parked on a down site are not attempted, but they still end
        when their lifetime does: expired, with the site's error, at the next
        failed probe (the engine scans the parked jobs only once the earliest
        of them may have expired)."""
        count = 2000
        dead = ClosingListener()
        dns = Dnsmasq()
        server = self.start_with_dead_route(
            dead, dns, "  max_delivery_seconds: 6\n"
            "  retry: {first_seconds: 1, factor: 2, max_seconds: 2}\n")
        try:
            self.inject(server, count, 10)
            http = server.ports["http"]
            self.assertTrue(wait_until(lambda: metric(http, "sesame_delivery_sites_down") == 1, 30))
            self.assertTrue(wait_until(
                lambda: (metric(http, "sesame_delivery_expired_total") or 0) >= count, 40),
                f"{metric(http, 'sesame_delivery_expired_total')} of {count} expired")
            site = [s for s in server.admin("/admin/queues")["sites"] if "dead.test" in s["site"]][0]
            self.assertEqual(site["ready"], 0)
            expired = [o for o in read_outcomes(server.data_dir)
                       if o["outcome"] == "expired" and o["recipient"] == "r@dead.test"]
            self.assertEqual(len(expired), count)
            self.assertTrue(all("no reachable host" in o["smtpResponse"] for o in expired))
            # Parked jobs were never attempted one by one: the few deferrals
            # are the probes.
            # (The expiries' DSNs to s@example.com, which has no MX, defer too.)
            deferred = [o for o in read_outcomes(server.data_dir)
                        if o["outcome"] == "deferred" and o["recipient"] == "r@dead.test"]
            self.assertLess(len(deferred), 40)
        finally:
            server.cleanup()
            dead.stop()
            dns.stop()


if __name__ == "__main__":
    unittest.main()
