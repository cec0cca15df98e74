"""Start-up failures: each one exits with status 1 and one line naming the
listener, file or directory (no abort, no core dump, no stack of messages)."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BINARY, Sesame


def serve(config_path, timeout=20):
    return subprocess.run([BINARY, "serve", "--config", config_path], capture_output=True,
                          text=True, timeout=timeout)


class StartupFailures(unittest.TestCase):
    def setUp(self):
        self.server = Sesame()
        self.addCleanup(shutil.rmtree, self.server.data_dir, True)

    def rewrite(self, old, new):
        with open(self.server.config_path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(self.server.config_path, "w") as f:
            f.write(text.replace(old, new))

    def assertOneLineFailure(self, out, *needles):
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertNotIn("terminate called", out.stderr)
        # Logs are JSON lines; the failure is the one plain line.
        plain = [l for l in out.stderr.splitlines() if l and not l.startswith("{")]
        self.assertEqual(len(plain), 1, out.stderr)
        self.assertTrue(plain[0].startswith("sesame: "), plain[0])
        for n in needles:
            self.assertIn(n, plain[0])
        self.assertNotIn(".hpp", plain[0])  # no library source locations
        return plain[0]

    def test_a_taken_port_names_the_listener(self):
        for name in ("smtp", "http"):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", self.server.ports[name]))
                s.listen()
                line = self.assertOneLineFailure(
                    serve(self.server.config_path),
                    f"cannot listen on {name} 127.0.0.1:{self.server.ports[name]}",
                    "Address already in use")
                self.assertNotIn("system:", line)

    def test_a_missing_or_malformed_config_names_the_file(self):
        missing = os.path.join(self.server.data_dir, "absent.yaml")
        self.assertOneLineFailure(serve(missing), missing)
        with open(self.server.config_path, "a") as f:
            f.write("threads: [\n")
        self.assertOneLineFailure(serve(self.server.config_path), self.server.config_path)

    def test_an_unreadable_certificate_names_the_file(self):
        bad = os.path.join(self.server.data_dir, "garbage.pem")
        with open(bad, "w") as f:
            f.write("not a certificate\n")
        with open(self.server.config_path, "a") as f:
            f.write(f"tls: {{cert_file: {bad}, key_file: {bad}}}\n")
        self.assertOneLineFailure(serve(self.server.config_path), bad)

    def test_an_unusable_data_dir_names_the_directory(self):
        blocker = os.path.join(self.server.data_dir, "a-file")
        open(blocker, "w").close()
        self.rewrite(f"data_dir: {self.server.data_dir}\n", f"data_dir: {blocker}/data\n")
        self.assertOneLineFailure(serve(self.server.config_path), f"{blocker}/data")

    def test_an_unusable_events_directory_names_it(self):
        # data_dir/events is where the event outbox lives; a file there
        # fails the publisher after the listeners are bound.
        open(os.path.join(self.server.data_dir, "events"), "w").close()
        self.assertOneLineFailure(serve(self.server.config_path), "events")


if __name__ == "__main__":
    unittest.main()
