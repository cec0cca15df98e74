"""The Debian package, installed for real: `scripts/make-deb` builds it,
`dpkg -i` installs it (`apt-get -f install` for anything missing), and the
installed binary, run as the package's `sesame` user with the packaged
configuration moved to loopback ports, accepts a message. The unit file is
checked with `systemd-analyze verify`. The package is purged afterwards.
Needs root (it installs into the system); elsewhere it is skipped."""
import os
import pwd
import re
import shutil
import smtplib
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from harness import ROOT, free_port, tls_client_context

DEB_BUILD = os.path.join(ROOT, "build")


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=check, **kw)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("dpkg-deb") and os.path.exists(
    os.path.join(DEB_BUILD, "sesame")), "needs root, dpkg-deb and build/sesame (it installs the package)")
class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = sh(os.path.join(ROOT, "scripts", "make-deb"), env=dict(os.environ, BUILD=DEB_BUILD)).stdout.strip()
        cls.was_installed = sh("dpkg-query", "-W", "-f=${Status}", "sesame", check=False).stdout.startswith(
            "install ok")
        r = sh("dpkg", "-i", cls.deb, check=False)
        if r.returncode != 0:  # dependencies missing: apt-get resolves them
            sh("apt-get", "-f", "install", "-y", "-qq")
        cls.tmp = tempfile.mkdtemp(prefix="sesame-deb-")

    @classmethod
    def tearDownClass(cls):
        if not cls.was_installed:
            sh("dpkg", "--purge", "sesame", check=False)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_layout_user_and_directories(self):
        self.assertTrue(os.access("/usr/bin/sesame", os.X_OK))
        user = pwd.getpwnam("sesame")
        for d in ("/var/lib/sesame", "/var/lib/sesame-keys"):
            st = os.stat(d)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, d)
            self.assertEqual(st.st_uid, user.pw_uid, d)
        self.assertEqual(stat.S_IMODE(os.stat("/etc/sesame/sesame.yaml").st_mode), 0o640)
        self.assertIn("/etc/sesame/sesame.yaml", sh("dpkg-query", "-W", "-f=${Conffiles}", "sesame").stdout)
        out = sh("/usr/bin/sesame", "config", "check", "--config", "/etc/sesame/sesame.yaml", check=False)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_unit_file_verifies(self):
        unit = "/lib/systemd/system/sesame.service"
        text = open(unit).read()
        for line in ("User=sesame", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ReadWritePaths=/var/lib/sesame", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                     "Restart=on-failure", "TimeoutStopSec=10"):
            self.assertIn(line, text)
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed here: the unit file was not verified")
        out = sh("systemd-analyze", "verify", unit, check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_installed_binary_runs_as_sesame_and_accepts_mail(self):
        data = os.path.join(self.tmp, "data")
        keys = os.path.join(self.tmp, "keys")
        for d in (data, keys):
            os.makedirs(d, mode=0o700)
            shutil.chown(d, "sesame", "sesame")
        os.chmod(self.tmp, 0o755)
        ports = {name: free_port() for name in ("smtp", "smtps", "mx", "http")}
        cfg = open("/etc/sesame/sesame.yaml").read()
        cfg = cfg.replace("data_dir: /var/lib/sesame", f"data_dir: {data}")
        cfg = cfg.replace("/var/lib/sesame-keys/master.key", f"{keys}/master.key")
        for name, port in ports.items():
            cfg = re.sub(rf"({name}:\s*{{address: )[0-9.]+, port: \d+", rf"\g<1>127.0.0.1, port: {port}", cfg)
        cfg = cfg.replace("  auth_without_tls: false\n",
                          "  auth_without_tls: false\n  users:\n    - {username: app, password: pkg-test-secret}\n")
        cfg = cfg.replace("api:\n", "api:\n  auto_verify: true\n")
        cfg = cfg.replace("  mode: smtp\n", "  mode: hold\n")
        path = os.path.join(self.tmp, "sesame.yaml")
        with open(path, "w") as f:
            f.write(cfg)
        os.chmod(path, 0o644)
        # setpriv execs the binary itself (runuser would stand between, and answer SIGTERM with -15).
        proc = subprocess.Popen(["setpriv", "--reuid=sesame", "--regid=sesame", "--clear-groups", "/usr/bin/sesame", "serve", "--config", path],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 15
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", ports["smtp"]), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)
            c = smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10)
            c.starttls(context=tls_client_context())
            c.login("app", "pkg-test-secret")
            refused = c.sendmail("app@example.com", ["someone@example.org"],
                                 "From: app@example.com\r\nTo: someone@example.org\r\nSubject: deb\r\n\r\nhi\r\n")
            c.quit()
            self.assertEqual(refused, {})
            files = [os.path.join(dp, f) for dp, _, fs in os.walk(data) for f in fs]
            self.assertTrue(files)
            self.assertTrue(all(os.stat(f).st_uid == pwd.getpwnam("sesame").pw_uid for f in files))
            queued = sh("/usr/bin/sesame", "queue", "list", "--json", "--config", path).stdout
            self.assertIn("someone@example.org", queued)
        finally:
            proc.terminate()
            out = proc.communicate(timeout=15)[0].decode()
        self.assertEqual(proc.returncode, 0, out)
        self.assertNotIn("pkg-test-secret", out)  # a configured password is never echoed


if __name__ == "__main__":
    unittest.main()
