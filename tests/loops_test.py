"""No network loop waits for another thread: with one network loop and the
delivery engine held busy (a debug hook, SESAME_DEBUG_HOOKS=1), /metrics and
/admin/queues wait for the engine off the loop, while an SMTP session on the
same loop, /health and an API send complete at once."""
import os
import smtplib
import ssl
import threading
import time
import unittest
import urllib.request

from harness import Sesame

HOLD_MS = 4000


class NoLoopBlocks(unittest.TestCase):
    def test_smtp_session_completes_while_the_engine_thread_is_busy(self):
        server = Sesame(env={"SESAME_DEBUG_HOOKS": "1"}, delivery="delivery: {mode: hold}\n")
        with open(server.config_path) as f:
            text = f.read()
        with open(server.config_path, "w") as f:
            f.write(text.replace("threads: 2\n", "threads: 1\n"))  # one network loop for all
        server.start()
        base = f"http://127.0.0.1:{server.ports['http']}"
        with open(os.path.join(server.data_dir, "admin.token")) as f:
            token = f.read().strip()

        def get(path, out):
            req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
            t = time.monotonic()
            with urllib.request.urlopen(req, timeout=30) as r:
                out.append((r.status, r.read().decode(), time.monotonic() - t))
        try:
            server.admin(f"/admin/debug/hold-engine?ms={HOLD_MS}", method="POST")
            held_at = time.monotonic()
            answers = {"/metrics": [], "/admin/queues": []}
            waiters = [threading.Thread(target=get, args=(p, out)) for p, out in answers.items()]
            for w in waiters:
                w.start()
            time.sleep(0.3)  # both requests are now waiting for the engine
            t = time.monotonic()
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
                s.starttls(context=ssl._create_unverified_context())
                s.login("app", "app-secret")
                s.sendmail("app@example.com", ["r@dest.example"],
                           b"From: app@example.com\r\nTo: r@dest.example\r\nSubject: s\r\n\r\nbody\r\n")
            smtp_seconds = time.monotonic() - t
            health = []
            get("/health", health)
            still_held = time.monotonic() - held_at < HOLD_MS / 1000 - 0.5
            self.assertTrue(still_held, "the SMTP session ran after the hold ended: inconclusive")
            self.assertLess(smtp_seconds, 1.5, "an SMTP session waited for the engine")
            self.assertLess(health[0][2], 0.5)
            for w in waiters:
                w.join(30)
            for path, out in answers.items():
                status, body, seconds = out[0]
                self.assertEqual(status, 200, path)
                # They did wait for the engine (so the hook held it), just not on the loop.
                self.assertGreater(seconds, HOLD_MS / 1000 - 1.5, path)
            self.assertIn("sesame_delivery", answers["/metrics"][0][1])
            self.assertIn("sites", answers["/admin/queues"][0][1])
        finally:
            server.cleanup()

    def test_the_debug_hook_is_off_by_default(self):
        server = Sesame().start()
        try:
            import urllib.error
            with self.assertRaises(urllib.error.HTTPError) as cm:
                server.admin("/admin/debug/hold-engine?ms=1000", method="POST")
            self.assertEqual(cm.exception.code, 404)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
