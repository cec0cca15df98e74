"""The command line's own help: every command answers --help with its
options and an example, `--version` and `version` agree, and a command used
wrongly says what is wrong and shows its own usage (exit status 2)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BINARY

COMMANDS = ["serve", "queue", "dlq", "keys", "identity", "suppression", "events", "bounce-parse",
            "bounce-eval", "config", "api", "version", "help"]


def run(*args, cwd=None):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=30, cwd=cwd)


class Cli(unittest.TestCase):
    def test_every_command_has_help_with_an_example(self):
        overview = run("help")
        self.assertEqual(overview.returncode, 0)
        for cmd in COMMANDS:
            self.assertIn(f"\n  {cmd}", overview.stdout)
            for form in ((cmd, "--help"), ("help", cmd), (cmd, "-h")):
                out = run(*form)
                self.assertEqual(out.returncode, 0, form)
                self.assertTrue(out.stdout.startswith(f"usage: sesame {cmd}"), (form, out.stdout))
                self.assertIn("\nexample:\n  sesame ", out.stdout, form)
        self.assertIn("--json", run("queue", "--help").stdout)

    def test_version_two_ways(self):
        a, b = run("--version"), run("version")
        self.assertEqual((a.returncode, b.returncode), (0, 0))
        self.assertEqual(a.stdout, b.stdout)
        self.assertRegex(a.stdout, r"^sesame \d+\.\d+\.\d+\n$")

    def test_misuse_names_the_problem_and_shows_the_command(self):
        cases = [(("queue",), "a subcommand is needed", "usage: sesame queue list"),
                 (("identity",), "a subcommand is needed", "usage: sesame identity records"),
                 (("config",), "a subcommand is needed", "usage: sesame config check"),
                 (("identity", "records", "a.example", "extra"), "unexpected 'extra'", "usage: sesame identity"),
                 (("identity", "records"), "missing arguments", "usage: sesame identity"),
                 (("dlq", "bogus"), "unknown subcommand 'bogus'", "usage: sesame dlq"),
                 (("nope",), "unknown command 'nope'", "usage: sesame <command>"),
                 (("queue", "list", "--frobnicate"), "unknown option --frobnicate", "usage: sesame")]
        for args, why, usage in cases:
            out = run(*args)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn(why, out.stderr, args)
            self.assertIn(usage, out.stderr, args)
            self.assertEqual(out.stdout, "", args)


class ConfigCheck(unittest.TestCase):
    def check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        try:
            return run("config", "check", "--config", f.name), f.name
        finally:
            os.unlink(f.name)

    def test_every_error_is_reported_with_its_place(self):
        out, path = self.check('profile: production\nhostname: "bad host name"\nthreads: lots\nfrobnicate: 1\n'
                               'api:\n  public_url: not a url\n')
        self.assertEqual(out.returncode, 1)
        lines = out.stderr.strip().splitlines()
        self.assertEqual(len(lines), 4, out.stderr)
        for needle in (":3:10: threads:", ":4:1: frobnicate: unknown key", ":2:11: hostname: 'bad host name'",
                       ":6:15: api.public_url: 'not a url'"):
            self.assertTrue(any(needle in l for l in lines), (needle, out.stderr))

    def test_unreadable_files_and_risky_settings(self):
        out, _ = self.check("profile: production\nhostname: mail.example.com\n"
                            "tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}\n")
        self.assertEqual(out.returncode, 1)
        self.assertIn("tls.cert_file: cannot read /nonexistent/c.pem", out.stderr)
        self.assertIn("tls.key_file: cannot read /nonexistent/k.pem", out.stderr)
        out, _ = self.check("profile: production\nhostname: mail.example.com\nsmtp:\n  auth_without_tls: true\n"
                            "  users:\n    - {username: a, password: short}\n"
                            "listeners:\n  http: {address: 0.0.0.0, port: 8080}\n"
                            "dashboard: {admin_user: admin, admin_password: x}\n")
        self.assertEqual(out.returncode, 0, out.stderr)  # valid, but said to be risky
        for needle in ("warning: smtp.auth_without_tls", "warning: listeners.http", "0.0.0.0 without TLS",
                       "warning: dashboard.admin_password", "password of a is shorter"):
            self.assertIn(needle, out.stderr)


class IdentityRecords(unittest.TestCase):
    def test_server_records_and_no_key_kept_for_a_non_identity(self):
        work = tempfile.mkdtemp(prefix="sesame-cli-")
        try:
            outs = [run("identity", "records", "example.org", "--json", cwd=work) for _ in range(2)]
            for out in outs:
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn("not an identity yet", out.stderr)
            records = [{r["Purpose"]: r for r in json.loads(o.stdout)["Records"]} for o in outs]
            # The local profile's bounce domain is every message's envelope domain.
            self.assertEqual(records[0]["bounce-mx"]["Name"], "bounces.sesame.localhost")
            self.assertEqual(records[0]["bounce-mx"]["Value"], "10 sesame.localhost.")
            self.assertEqual(records[0]["bounce-spf"]["Value"], "v=spf1 a:sesame.localhost -all")
            self.assertEqual(records[0]["hostname-a"]["Name"], "sesame.localhost")
            self.assertIn("hostname-ptr", records[0])
            # A preview key each time: nothing was stored for a domain that is no identity.
            self.assertNotEqual(records[0]["dkim"]["Value"], records[1]["dkim"]["Value"])
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
