"""SIGHUP, systemd's reload: the TLS certificate is read again (certbot renews the files in place)
and new handshakes on 465 and STARTTLS get it, the log level follows the file, every other changed
key is named as needing a restart, and a file that does not load changes nothing."""
import hashlib
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import unittest

from harness import Sesame, wait_until


def served_fingerprint(port, starttls=False):
    """SHA-256 of the certificate the server presents on `port`."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if starttls:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.starttls(context=ctx)
            return hashlib.sha256(s.sock.getpeercert(binary_form=True)).hexdigest()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(path):
    der = subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    return hashlib.sha256(der).hexdigest()


class Reload(unittest.TestCase):
    def setUp(self):
        self.server = Sesame().start()
        self.cert = os.path.join(self.server.data_dir, "tls", "cert.pem")
        self.key = os.path.join(self.server.data_dir, "tls", "key.pem")

    def tearDown(self):
        self.server.cleanup()

    def hup_and_wait(self, text):
        before = self.server.read_log().count(text)
        self.server.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: self.server.read_log().count(text) > before, 10),
                        self.server.read_log()[-2000:])

    def renew(self, cn):
        """What certbot does: new files at the same paths."""
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", f"/CN={cn}", "-keyout", self.key + ".new",
                        "-out", self.cert + ".new"], capture_output=True, check=True)
        os.replace(self.key + ".new", self.key)
        os.replace(self.cert + ".new", self.cert)

    def test_a_renewed_certificate_is_served_after_sighup(self):
        smtps, smtp = self.server.ports["smtps"], self.server.ports["smtp"]
        old = served_fingerprint(smtps)
        self.assertEqual(old, file_fingerprint(self.cert))
        self.renew("renewed.sesame.test")
        new = file_fingerprint(self.cert)
        self.assertEqual(served_fingerprint(smtps), old)  # nothing reads the files by itself
        self.hup_and_wait("certificate reloaded")
        self.assertEqual(served_fingerprint(smtps), new)
        self.assertEqual(served_fingerprint(smtp, starttls=True), new)
        self.assertIn(new, self.server.read_log())  # the log names the fingerprint
        # A key that does not match its certificate is refused; the served pair stays.
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.key],
                       check=True, capture_output=True)
        self.hup_and_wait("the key does not match the certificate")
        self.assertEqual(served_fingerprint(smtps), new)

    def test_log_level_applies_and_other_changes_are_named(self):
        with open(self.server.config_path) as f:
            text = f.read()
        self.assertNotIn("log_level", text)
        info_lines = lambda: self.server.read_log().count("certificate reloaded")  # logged at info
        before = info_lines()
        with open(self.server.config_path, "w") as f:
            f.write(text.replace("threads: 2\n", "threads: 3\nlog_level: warn\n"))
        self.hup_and_wait("changed, applied after a restart: threads")
        self.hup_and_wait("changed, applied after a restart: threads")
        self.assertEqual(info_lines(), before)  # warn: the info lines are gone
        # A file that does not load: named, nothing changes, the server goes on.
        with open(self.server.config_path, "w") as f:
            f.write(text + "listeners: [not, a, map]\n")
        self.hup_and_wait("configuration not reloaded")
        # Back to the file it started with: info again, nothing to restart for.
        with open(self.server.config_path, "w") as f:
            f.write(text)
        self.hup_and_wait("SIGHUP: configuration reloaded")
        self.assertGreater(info_lines(), before)
        self.assertIsNone(self.server.proc.poll())


if __name__ == "__main__":
    unittest.main()
