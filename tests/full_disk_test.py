"""A full disk (a real, size-limited tmpfs in a private mount namespace):
new mail is refused with 452 and /ready says so, a restart on the full disk
comes up anyway, queued mail is delivered, and mail is accepted again once
space returns. Needs root (mount namespaces); skipped otherwise."""
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from harness import RawSmtp, Sesame, can_mount, free_port, inject, private_tmpfs, wait_until
from sink import FaultSink


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@unittest.skipUnless(can_mount(), "needs root and mount namespaces")
class FullDisk(unittest.TestCase):
    def test_full_disk_refuses_new_mail_restarts_and_delivers(self):
        sink_port = free_port()
        server = Sesame(delivery=("delivery:\n  mode: smtp\n  retry: {first_seconds: 1, factor: 2, max_seconds: 2}\n"
                                  f"routes:\n  - {{match: dest.test, hosts: [\"127.0.0.2:{sink_port}\"]}}\n"
                                  "spool: {min_free_space: 1MB}\n"),
                        relay=True)
        holder, ns, fs = private_tmpfs(server, "48m")
        sink = None
        try:
            server.start()
            ids = inject(server.ports["smtp"], [("app@example.com", [f"r{i}@dest.test"], f"m{i}")
                                                 for i in range(20)], sessions=2)
            self.assertEqual(len(ids), 20)
            # Fill the filesystem to the last block.
            subprocess.run(ns + ["dd", "if=/dev/zero", f"of={fs}/filler", "bs=1M"], capture_output=True)
            df = subprocess.run(ns + ["df", "--output=avail", "-B1", fs], capture_output=True, text=True).stdout
            self.assertLess(int(df.split()[-1]), 1 << 20, df)
            time.sleep(0.5)
            # Refused while full: SMTP 452 at MAIL, /ready 503 naming the spool.
            s = RawSmtp(server.ports["smtp"])
            s.cmd("EHLO c")
            code, text = s.cmd("MAIL FROM:<app@example.com>")
            self.assertEqual((code, text[4:9]), (452, "4.3.1"), text)
            s.close()
            status, body = ready(server.ports["http"])
            self.assertEqual(status, 503, body)
            self.assertIn('"spoolAccepting":false', body)
            # A restart on the full disk comes up.
            server.kill9()
            server.start()
            status, body = ready(server.ports["http"])
            self.assertEqual(status, 503, body)
            self.assertIn('"spoolAccepting":false', body)
            # Delivery goes on: the receiver comes up, every queued message arrives.
            sink = FaultSink(host="127.0.0.2", port=sink_port).start()
            self.assertTrue(wait_until(lambda: len({r for _, r in sink.pairs()}) >= 20, 30),
                            (sink.count(), server.read_log()[-3000:]))
            # Space returns: mail is accepted again.
            subprocess.run(ns + ["rm", "-f", f"{fs}/filler"], check=True)
            self.assertTrue(wait_until(lambda: ready(server.ports["http"])[0] == 200, 10),
                            ready(server.ports["http"]))
            more = inject(server.ports["smtp"], [("app@example.com", ["after@dest.test"], "after")])
            self.assertEqual(len(more), 1)
            self.assertTrue(wait_until(lambda: any(r == "after@dest.test" for _, r in sink.pairs()), 15))
        finally:
            server.cleanup()
            holder.kill()
            holder.wait()
            if sink:
                sink.stop()


if __name__ == "__main__":
    unittest.main()
