"""Crash test for delivery: kill -9 while 10,000 messages are being delivered,
restart, and check that every accepted message reached the sink at least once.
Duplicates (delivered, but the state update died with the process) are counted
and reported."""
import os
import random
import time
import unittest

from dns_helper import Dnsmasq
from harness import Sesame, inject, wait_until
from sink import FaultSink

TOTAL = int(os.environ.get("DELIVERY_CRASH_MESSAGES", "10000"))


@unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
class DeliveryCrashTest(unittest.TestCase):
    def test_kill9_during_delivery(self):
        sink = FaultSink(host="127.0.0.2").start()
        dns = Dnsmasq(mx=[("crash.test", "mx.crash.test", 10)], hosts=[("mx.crash.test", "127.0.0.2")])
        delivery = (f"delivery:\n  mode: smtp\n  resolver: {dns.address}\n  mx_port: {sink.port}\n"
                    "  retry: {first_seconds: 1, factor: 2, max_seconds: 2}\n"
                    "  shaping: {default: {max_connections: 10, messages_per_connection: 200}}\n")
        server = Sesame(delivery=delivery, relay=True).start()
        try:
            t0 = time.time()
            msgs = [("load@example.com", [f"r{i}@crash.test"], f"crash{i}") for i in range(TOTAL)]
            # Inject everything with delivery running, and kill once a random share has reached the sink.
            import threading
            ids = {}
            injector = threading.Thread(target=lambda: ids.update(inject(server.ports["smtp"], msgs, sessions=20)))
            injector.start()
            kill_at = random.randint(TOTAL // 5, TOTAL // 2)
            self.assertTrue(wait_until(lambda: sink.count() >= kill_at, 120, 0.01))
            at_kill = sink.count()
            server.kill9()
            injector.join()
            accepted = set(ids.values())
            server.start()
            self.assertTrue(wait_until(lambda: {sid for sid, _ in sink.pairs()} >= accepted, 300, 0.2),
                            f"{len(accepted - {sid for sid, _ in sink.pairs()})} accepted messages never delivered")
            self.assertTrue(wait_until(lambda: server.queue()[0] == [], 60),
                            f"still queued: {server.queue()[0][:5]} ({len(server.queue()[0])} in all)")
            pairs = sink.pairs()
            dup = len(pairs) - len(set(pairs))
            print(f"\ndelivery crash test: {len(accepted)} accepted, killed after {at_kill} deliveries, "
                  f"all delivered after restart; {dup} duplicates; {time.time() - t0:.1f}s")
            # Duplicates can only come from deliveries whose state update was not yet durable.
            self.assertLess(dup, 2000)
        finally:
            server.cleanup()
            sink.stop()
            dns.stop()


if __name__ == "__main__":
    unittest.main()
