"""End-to-end SMTP tests against the real binary: real clients, real sockets."""
import base64
import json
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import time
import unittest
import urllib.request

from harness import SHARED, BINARY, RawSmtp, Sesame, tls_client_context

USER, PASSWORD = "app", "app-secret"
BOUNCE = "someone@bounces.sesame.test"


def message(subject, body="Hello.\r\n", extra=""):
    return (f"From: app@example.com\r\nTo: x@example.org\r\nSubject: {subject}\r\n{extra}\r\n{body}").encode()


class SmtpEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Sesame(extra_yaml="limits: {max_message_size: 200KB, max_recipients: 5}\n").start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def port(self, name):
        return self.server.ports[name]

    def submit_client(self):
        c = smtplib.SMTP("127.0.0.1", self.port("smtp"), timeout=10)
        c.ehlo("client.test")
        c.starttls(context=tls_client_context())
        c.ehlo("client.test")
        c.login(USER, PASSWORD)
        return c

    def assert_queued(self, message_id, sender=None, recipients=None, contains=None):
        queue, _ = self.server.queue()
        entry = next((m for m in queue if m["MessageId"] == message_id), None)
        self.assertIsNotNone(entry, f"{message_id} not in queue")
        self.assertEqual(entry["State"], "queued")
        if sender is not None:
            self.assertEqual(entry["From"], sender)
        if recipients is not None:
            self.assertEqual([r["Address"] for r in entry["Recipients"]], recipients)
        if contains is not None:
            body = self.server.body_of(message_id)
            self.assertIn(contains, body)
        return entry

    @staticmethod
    def id_from(reply_text):
        text = reply_text.decode() if isinstance(reply_text, bytes) else reply_text
        return text.split()[-1]

    # --- sending -------------------------------------------------------------

    def test_plain_message_with_starttls_and_auth(self):
        c = self.submit_client()
        self.assertIn("auth", c.esmtp_features)  # offered once TLS is up
        code, resp = c.mail("app@example.com")
        self.assertEqual(code, 250)
        self.assertEqual(c.rcpt("alice@example.org")[0], 250)
        code, resp = c.data(message("plain"))
        c.quit()
        self.assertEqual(code, 250)
        self.assertRegex(resp.decode(), r"^2\.0\.0 Ok 01[0-9a-f]{14}-[0-9a-f-]{36}-000000$")
        mid = self.id_from(resp)
        body = self.server.body_of(mid)
        self.assertTrue(body.startswith(b"Received: from client.test ([127.0.0.1])"), body[:200])
        self.assertIn(b"with ESMTPSA", body)
        self.assertIn(b"Subject: plain\r\n", body)
        self.assert_queued(mid, "app@example.com", ["alice@example.org"])

    def test_auth_not_offered_before_tls(self):
        c = smtplib.SMTP("127.0.0.1", self.port("smtp"), timeout=10)
        c.ehlo("client.test")
        self.assertIn("starttls", c.esmtp_features)
        self.assertNotIn("auth", c.esmtp_features)
        code, text = c.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode())
        self.assertEqual(code, 530)
        c.quit()

    def test_implicit_tls_with_auth_login(self):
        c = smtplib.SMTP_SSL("127.0.0.1", self.port("smtps"), context=tls_client_context(), timeout=10)
        c.ehlo("client.test")
        self.assertIn("auth", c.esmtp_features)
        self.assertNotIn("starttls", c.esmtp_features)
        c.user, c.password = USER, PASSWORD
        code, _ = c.auth("LOGIN", c.auth_login)
        self.assertEqual(code, 235)
        _, resp = c.data(b"") if False else (None, None)
        c.mail("app@example.com")
        c.rcpt("bob@example.org")
        code, resp = c.data(message("implicit tls"))
        c.quit()
        self.assertEqual(code, 250)
        self.assertIn(b"with ESMTPSA", self.server.body_of(self.id_from(resp)))

    def test_eight_bit_message(self):
        c = self.submit_client()
        body = "Grüße aus Köln — ça va?\r\n".encode("utf-8")
        raw = b"From: a@example.com\r\nSubject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n" \
              b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body
        c.mail("app@example.com", ["BODY=8BITMIME"])
        c.rcpt("carol@example.org")
        code, resp = c.data(raw)
        c.quit()
        self.assertEqual(code, 250)
        self.assertIn(body, self.server.body_of(self.id_from(resp)))

    def test_smtputf8_addresses(self):
        c = self.submit_client()
        self.assertIn("smtputf8", c.esmtp_features)
        raw = "From: jörg@exämple.com\r\nSubject: utf8\r\n\r\nHallo\r\n".encode("utf-8")
        code, resp = c.mail("jörg@exämple.com", ["SMTPUTF8", "BODY=8BITMIME"])
        self.assertEqual(code, 250, resp)
        self.assertEqual(c.rcpt("δοκιμή@παράδειγμα.δοκιμή")[0], 250)
        code, resp = c.data(raw)
        c.quit()
        self.assertEqual(code, 250)
        mid = self.id_from(resp)
        self.assert_queued(mid, "jörg@exämple.com", ["δοκιμή@παράδειγμα.δοκιμή"])
        self.assertIn(b"with UTF8SMTPSA", self.server.body_of(mid))

    def test_non_ascii_without_smtputf8_is_refused(self):
        s = RawSmtp(self.port("mx"))
        s.cmd("EHLO c")
        code, text = s.cmd("MAIL FROM:<jörg@example.com>")
        self.assertEqual(code, 553, text)
        self.assertIn("5.6.7", text)
        self.assertEqual(s.cmd(f"MAIL FROM:<jörg@example.com> SMTPUTF8")[0], 250)
        self.assertEqual(s.cmd(f"RCPT TO:<jörg@bounces.sesame.test>")[0], 250)

    def test_pipelined_transactions(self):
        s = RawSmtp(self.port("mx"))
        s.cmd("EHLO pipeliner.test")
        batch = ""
        for i in range(3):
            batch += (f"MAIL FROM:<p{i}@example.com>\r\nRCPT TO:<{BOUNCE}>\r\nRCPT TO:<x@fbl.sesame.test>\r\n"
                      f"RCPT TO:<y@a.fbl.sesame.test>\r\nDATA\r\nSubject: pipelined {i}\r\n\r\nbody {i}\r\n.\r\n")
        s.send(batch + "QUIT\r\n")
        codes, ids = [], []
        for _ in range(3):
            for _ in range(6):
                code, text = s.reply()
                codes.append(code)
                if code == 250 and "Ok 01" in text:
                    ids.append(text.split()[-1])
        self.assertEqual(s.reply()[0], 221)
        self.assertEqual(codes, [250, 250, 550, 250, 354, 250] * 3)  # fbl.sesame.test itself is not matched by *.
        self.assertEqual(len(ids), 3)
        for i, mid in enumerate(ids):
            self.assert_queued(mid, f"p{i}@example.com", [BOUNCE, "y@a.fbl.sesame.test"],
                               contains=f"Subject: pipelined {i}".encode())

    def test_bdat_chunking(self):
        s = RawSmtp(self.port("mx"))
        code, text = s.cmd("EHLO chunker.test")
        self.assertIn("CHUNKING", text)
        part1 = b"Subject: bdat\r\n\r\nline one\r\n.starts with a dot\r\n"
        part2 = b"last line\r\n"
        s.send(f"MAIL FROM:<c@example.com>\r\nRCPT TO:<{BOUNCE}>\r\nBDAT {len(part1)}\r\n".encode() + part1 +
               f"BDAT {len(part2)} LAST\r\n".encode() + part2)
        self.assertEqual([s.reply()[0] for _ in range(3)], [250, 250, 250])
        code, text = s.reply()
        self.assertEqual(code, 250)
        mid = text.split()[-1]
        body = self.server.body_of(mid)
        self.assertTrue(body.endswith(part1 + part2), body)
        s.cmd("QUIT")

    def test_swaks_starttls_auth_and_implicit_tls_and_pipelining(self):
        if not shutil.which("swaks"):
            self.skipTest("swaks missing")
        runs = [
            ["--server", f"127.0.0.1:{self.port('smtp')}", "--tls", "--auth", "PLAIN"],
            ["--server", f"127.0.0.1:{self.port('smtp')}", "--tls", "--auth", "LOGIN", "--pipeline"],
            ["--server", f"127.0.0.1:{self.port('smtps')}", "--tls-on-connect", "--auth", "PLAIN"],
        ]
        for extra in runs:
            out = subprocess.run(["swaks", "--from", "swaks@example.com", "--to", "dest@example.org",
                                  "--auth-user", USER, "--auth-password", PASSWORD,
                                  "--header", "Subject: swaks", *extra],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            ok = [l for l in out.stdout.splitlines() if "250 2.0.0 Ok 01" in l]
            self.assertEqual(len(ok), 1, out.stdout)
            self.assert_queued(ok[0].split()[-1], "swaks@example.com", ["dest@example.org"])

    def test_swaks_bad_credentials(self):
        if not shutil.which("swaks"):
            self.skipTest("swaks missing")
        out = subprocess.run(["swaks", "--server", f"127.0.0.1:{self.port('smtp')}", "--tls",
                              "--from", "a@example.com", "--to", "b@example.org",
                              "--auth-user", USER, "--auth-password", "wrong"],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("535 5.7.8", out.stdout)

    # --- limits and errors -----------------------------------------------------

    def test_bad_credentials(self):
        c = smtplib.SMTP("127.0.0.1", self.port("smtp"), timeout=10)
        c.starttls(context=tls_client_context())
        with self.assertRaises(smtplib.SMTPAuthenticationError) as ctx:
            c.login(USER, "not-the-password")
        self.assertEqual(ctx.exception.smtp_code, 535)
        # Still not authenticated: the submission port takes no mail at all.
        code, text = c.mail("app@example.com")
        self.assertEqual((code, text[:5]), (530, b"5.7.0"))
        c.quit()

    def test_oversized_message(self):
        c = self.submit_client()
        code, text = c.docmd("MAIL", "FROM:<a@example.com> SIZE=300000")
        self.assertEqual((code, text[:5]), (552, b"5.3.4"))
        c.rset()
        c.mail("a@example.com")
        c.rcpt("b@example.org")
        big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 250
        code, text = c.data(big)
        self.assertEqual((code, text[:5]), (552, b"5.3.4"))
        self.assertEqual(c.noop()[0], 250)  # session continues
        c.quit()

    def test_too_many_recipients(self):
        c = self.submit_client()
        c.mail("a@example.com")
        codes = [c.rcpt(f"r{i}@example.org") for i in range(7)]
        self.assertEqual([x[0] for x in codes], [250] * 5 + [452, 452])
        self.assertTrue(codes[5][1].startswith(b"4.5.3"))
        code, resp = c.data(message("five"))
        self.assertEqual(code, 250)
        c.quit()
        self.assertEqual(len(self.assert_queued(self.id_from(resp))["Recipients"]), 5)

    def test_long_command_line(self):
        s = RawSmtp(self.port("mx"))
        s.cmd("EHLO c")
        code, _ = s.cmd("NOOP " + "x" * 600)
        self.assertEqual(code, 500)
        self.assertEqual(s.cmd("NOOP")[0], 250)

    def test_too_many_errors_closes(self):
        s = RawSmtp(self.port("mx"))
        codes = [s.cmd("BOGUS")[0] for _ in range(9)]
        self.assertEqual(codes, [500] * 9)
        code, text = s.cmd("BOGUS")
        self.assertEqual(code, 500)
        self.assertEqual(s.reply()[0], 421)
        self.assertTrue(s.closed())

    def test_vrfy_help_noop_rset(self):
        s = RawSmtp(self.port("mx"))
        self.assertEqual(s.cmd("HELO c")[0], 250)
        self.assertEqual(s.cmd("VRFY postmaster")[0], 252)
        self.assertEqual(s.cmd("HELP")[0], 214)
        self.assertEqual(s.cmd("NOOP")[0], 250)
        self.assertEqual(s.cmd("RSET")[0], 250)
        self.assertEqual(s.cmd("QUIT")[0], 221)

    # --- no open relay ------------------------------------------------------

    def test_no_open_relay_on_any_port(self):
        tricks = [
            "victim@example.org",
            "victim%example.org@bounces.sesame.test",
            "example.org!victim@bounces.sesame.test",
            "@bounces.sesame.test:victim@example.org",
            "@example.org,@bounces.sesame.test:victim@bounces.sesame.test",
            '"victim@example.org"@bounces.sesame.test',
            '"victim%example.org"@bounces.sesame.test',
            "victim@[127.0.0.1]",
            "victim@[IPv6:::1]",
            "victim@bounces.sesame.test.example.org",
            "victim@sesame.test",
            "victim@fbl.sesame.test",
        ]
        # The MX refuses every relay trick; the submission port refuses
        # unauthenticated mail before any recipient.
        for rcpt in tricks + ["postmaster", BOUNCE]:
            s = RawSmtp(self.port("smtp"))
            s.cmd("EHLO relay-tester.test")
            code, text = s.cmd("MAIL FROM:<spammer@example.net>")
            self.assertEqual((code, text[4:9]), (530, "5.7.0"), rcpt)
            self.assertEqual(s.cmd(f"RCPT TO:<{rcpt}>")[0], 503, rcpt)
            s.close()
        for port in ("mx",):
            for rcpt in tricks:
                s = RawSmtp(self.port(port))
                s.cmd("EHLO relay-tester.test")
                self.assertEqual(s.cmd("MAIL FROM:<spammer@example.net>")[0], 250)
                code, text = s.cmd(f"RCPT TO:<{rcpt}>")
                self.assertEqual(code, 550, f"{port}: {rcpt} -> {text}")
                self.assertIn("5.7.1", text)
                self.assertEqual(s.cmd("DATA")[0], 554)  # no valid recipients
                s.close()
            s = RawSmtp(self.port(port))
            s.cmd("EHLO relay-tester.test")
            s.cmd("MAIL FROM:<spammer@example.net>")
            self.assertEqual(s.cmd(f"RCPT TO:<{BOUNCE}>")[0], 250)
            self.assertEqual(s.cmd("RCPT TO:<postmaster>")[0], 250)
            s.close()
        # The MX never offers AUTH, even over TLS.
        s = RawSmtp(self.port("mx"))
        s.cmd("EHLO c")
        s.starttls()
        code, text = s.cmd("EHLO c")
        self.assertNotIn("AUTH", text)
        self.assertEqual(s.cmd("AUTH PLAIN " + base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode())[0], 502)

    # --- smuggling ----------------------------------------------------------

    def test_smuggling_sequences(self):
        path = os.path.join(SHARED, "corpora", "smtp", "smuggling_eod_sequences.tsv")
        with open(path, encoding="utf-8") as f:
            rows = [l.rstrip("\n").split("\t") for l in f][1:]
        self.assertGreaterEqual(len(rows), 10)
        for row in rows:
            seq = bytes.fromhex(row[1])
            control = row[2] == "control"
            before = set(self.server.queued_ids())
            s = RawSmtp(self.port("mx"))
            s.cmd("EHLO smuggler.test")
            s.cmd("MAIL FROM:<attacker@example.net>")
            s.cmd(f"RCPT TO:<{BOUNCE}>")
            self.assertEqual(s.cmd("DATA")[0], 354)
            payload = (b"Subject: smuggle\r\n\r\nfirst" + seq +
                       b"MAIL FROM:<admin@example.net>\r\nRCPT TO:<victim@bounces.sesame.test>\r\nDATA\r\n"
                       b"Subject: smuggled\r\n\r\nevil\r\n.\r\n")
            s.send(payload + b"QUIT\r\n")
            replies = []
            try:
                while True:
                    replies.append(s.reply())
            except (OSError, ConnectionError):
                pass
            self.assertEqual(replies[-1][0], 221, row[0])
            replies.pop()
            after = set(self.server.queued_ids()) - before
            codes = [r[0] for r in replies]
            if control:
                # The genuine sequence ends DATA; what follows is a second, legitimate transaction.
                self.assertEqual(codes[0], 250, row[0])
            else:
                self.assertEqual(len(replies), 1, f"{row[0]}: {replies}")  # one reply: no second transaction
                self.assertEqual(codes[0], 554, f"{row[0]}: {replies}")
                self.assertEqual(after, set(), row[0])
            s.close()

    # --- operations ---------------------------------------------------------

    def test_health_and_ready(self):
        for path, key in (("/health", "ok"), ("/ready", "ready")):
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port('http')}{path}", timeout=5) as r:
                self.assertEqual(r.status, 200)
                body = json.loads(r.read())
                self.assertEqual(body["status"], key)
        self.assertEqual((body["spool"], body["store"], body["listeners"]), (True, True, True))

    def test_logs_are_json_lines(self):
        lines = [l for l in self.server.read_log().splitlines() if l.startswith("{")]
        self.assertTrue(lines)
        for line in lines:
            entry = json.loads(line)
            self.assertEqual(set(entry) - {"messageId"}, {"time", "level", "component", "message"})

    def test_queue_list_plain_output(self):
        out = subprocess.run([BINARY, "queue", "list", "--config", self.server.config_path],
                             capture_output=True, text=True, check=True)
        self.assertIn("messages", out.stdout)
        self.assertTrue(out.stdout.startswith("ID"))


class Limits(unittest.TestCase):
    def test_connection_limit_per_ip(self):
        server = Sesame(extra_yaml="limits: {max_connections_per_ip: 3}\n").start()
        try:
            held = [RawSmtp(server.ports["mx"]) for _ in range(3)]
            for h in held:
                self.assertEqual(int(h.greeting[0]), 220)
            extra = RawSmtp(server.ports["mx"])
            self.assertEqual(extra.greeting[0], 421)
            self.assertTrue(extra.closed())
            held[0].cmd("QUIT")
            held[0].close()
            time.sleep(0.2)
            again = RawSmtp(server.ports["smtp"])
            self.assertEqual(again.greeting[0], 220)
        finally:
            server.cleanup()

    def test_command_timeout(self):
        server = Sesame(extra_yaml="limits: {command_timeout_seconds: 1}\n").start()
        try:
            s = RawSmtp(server.ports["mx"])
            s.cmd("EHLO c")
            start = time.time()
            code, text = s.reply()
            self.assertEqual(code, 421)
            self.assertIn("4.4.2", text)
            self.assertLess(time.time() - start, 5)
            self.assertTrue(s.closed())
        finally:
            server.cleanup()

    def test_disk_full_answers_452_and_loses_nothing(self):
        # RLIMIT_FSIZE makes writes past 256 KiB fail with EFBIG, as a full disk would.
        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
        server = Sesame(preexec_fn=limit).start()
        try:
            s = RawSmtp(server.ports["mx"])
            s.cmd("EHLO c")
            accepted = []
            for i in range(30):
                s.cmd("MAIL FROM:<a@example.com>")
                s.cmd(f"RCPT TO:<{BOUNCE}>")
                s.cmd("DATA")
                s.send(b"Subject: fill\r\n\r\n" + (b"y" * 900 + b"\r\n") * 20 + b".\r\n")
                code, text = s.reply()
                if code == 250:
                    accepted.append(text.split()[-1])
                else:
                    self.assertEqual(code, 452, text)
                    self.assertIn("4.3.1", text)
                    break
            else:
                self.fail("the size limit was never hit")
            self.assertGreater(len(accepted), 0)
            self.assertEqual(s.cmd("NOOP")[0], 250)  # still serving
            server.stop()
            server.preexec_fn = None
            server.start()
            queued = server.queued_ids()
            self.assertEqual(sorted(queued), sorted(accepted))
            _, warnings = server.queue()
            self.assertNotIn("corrupt", warnings)
        finally:
            server.cleanup()


class Configuration(unittest.TestCase):
    def test_bad_config_is_refused_with_precise_error(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("listeners:\n  smtp:\n    prot: 25\n")
        try:
            out = subprocess.run([BINARY, "serve", "--config", f.name], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 1)
            self.assertIn(f"{f.name}:3:5: listeners.smtp.prot: unknown key", out.stderr)
            out = subprocess.run([BINARY, "config", "check", "--config", f.name], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1)
        finally:
            os.unlink(f.name)

    def test_local_profile_without_config(self):
        import tempfile
        work = tempfile.mkdtemp(prefix="sesame-local-")
        try:
            busy = False
            for port in (2587, 2465, 2525, 8080):
                with socket.socket() as probe:
                    busy |= probe.connect_ex(("127.0.0.1", port)) == 0
            if busy:
                self.skipTest("local profile ports in use")
            proc = subprocess.Popen([BINARY, "serve"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            text = ""
            try:
                deadline = time.time() + 10
                while time.time() < deadline:
                    try:
                        socket.create_connection(("127.0.0.1", 2587), timeout=0.5).close()
                        break
                    except OSError:
                        time.sleep(0.05)
                c = smtplib.SMTP("127.0.0.1", 2587, timeout=10)
                c.starttls(context=tls_client_context())
                c.login("sesame", "sesame")
                c.mail("you@example.com")
                c.rcpt("someone@example.com")
                code, resp = c.data(message("local"))
                c.quit()
                self.assertEqual(code, 250)
                mid = resp.decode().split()[-1]
                self.assertTrue(os.path.exists(os.path.join(work, "var", "tls", "cert.pem")))
                # The local profile captures outbound mail instead of sending it.
                eml = os.path.join(work, "var", "mailbox", mid + ".eml")
                deadline = time.time() + 10
                while not os.path.exists(eml) and time.time() < deadline:
                    time.sleep(0.05)
                with open(eml, "rb") as f:
                    self.assertIn(b"Subject: local", f.read())
                out = subprocess.run([BINARY, "queue", "list", "--json"], cwd=work, capture_output=True, text=True)
                self.assertEqual(json.loads(out.stdout), [])  # delivered into the mailbox, so no longer queued
                # The banner's commands work pasted as printed: the export lines, then the aws command.
                banner = []
                while not banner or "/_aws/ses" not in banner[-1]:
                    line = proc.stdout.readline().decode()
                    self.assertTrue(line, "the banner ended early: " + "".join(banner))
                    banner.append(line)
                text = "".join(banner)
                exports = [l.strip() for l in banner if l.strip().startswith("export AWS_")]
                self.assertEqual(len(exports), 3, text)
                start = next(i for i, l in enumerate(banner) if "aws sesv2 send-email" in l)
                command = "".join(banner[start:start + 3])
                sh = subprocess.run(["bash", "-c", "\n".join(exports) + "\n" + command], cwd=work, text=True,
                                    capture_output=True, timeout=60,
                                    env=dict(os.environ, PATH="/usr/bin:" + os.environ["PATH"],
                                             AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null"))
                self.assertEqual(sh.returncode, 0, sh.stderr)
                self.assertIn("MessageId", sh.stdout)
                dev = subprocess.run([BINARY, "keys", "show-dev"], cwd=work, capture_output=True, text=True)
                self.assertEqual([l for l in dev.stdout.splitlines() if l.startswith("export")], exports)
                self.assertIn("SES SMTP credentials of this key", text)
            finally:
                proc.terminate()
                text += proc.communicate(timeout=10)[0].decode()
            self.assertIn("swaks --server 127.0.0.1:2587", text)
            self.assertIn("2465", text)
            self.assertIn("2525", text)
            self.assertIn("8080", text)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
