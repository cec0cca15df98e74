"""The feedback analyzer from the command line, measured on Sisimai's labelled
corpus (../shared/corpora/bounces/sisimai): the accuracy thresholds of issue 6
are asserted here so they cannot regress."""
import json
import os
import subprocess
import unittest

from harness import BINARY

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "corpora", "bounces",
                      "sisimai")


def run(*args):
    out = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=120)
    return out


@unittest.skipUnless(os.path.isdir(CORPUS), "Sisimai corpus missing")
class SisimaiAccuracy(unittest.TestCase):
    def evaluate(self, labels):
        out = run("bounce-eval", CORPUS, os.path.join(CORPUS, labels))
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_thresholds_on_labels(self):
        figures = self.evaluate("labels.tsv")
        self.assertGreaterEqual(figures["labels"], 600)
        self.assertGreaterEqual(figures["recipientExtraction"], 97.0, figures)
        self.assertGreaterEqual(figures["hardSoftAgreement"], 95.0, figures)
        self.assertGreaterEqual(figures["reasonAgreement"], 85.0, figures)

    def test_crlf_and_cr_line_ends_read_the_same(self):
        figures = self.evaluate("labels_dos_mac.tsv")
        self.assertGreaterEqual(figures["recipientExtraction"], 95.0, figures)
        self.assertGreaterEqual(figures["hardSoftAgreement"], 94.0, figures)
        self.assertGreaterEqual(figures["reasonAgreement"], 85.0, figures)
        for name in ("lhost-postfix-01.eml", "lhost-exim-01.eml", "lhost-qmail-01.eml"):
            parsed = [json.loads(run("bounce-parse", os.path.join(CORPUS, "maildir", d, name)).stdout)
                      for d in ("bsd", "dos", "mac") if os.path.exists(os.path.join(CORPUS, "maildir", d, name))]
            for p in parsed[1:]:
                self.assertEqual([(r["address"], r["reason"]) for r in p["recipients"]],
                                 [(r["address"], r["reason"]) for r in parsed[0]["recipients"]], name)

    def test_bounce_parse_output(self):
        files = [os.path.join(CORPUS, "maildir", "bsd", f) for f in
                 ("lhost-postfix-01.eml", "arf-01.eml", "rfc3834-01.eml")]
        out = run("bounce-parse", *files)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual([o["kind"] for o in lines], ["bounce", "complaint", "auto-reply"])
        bounce = lines[0]["recipients"][0]
        for key in ("address", "action", "status", "diagnosticCode", "bounceType", "bounceSubType", "reason"):
            self.assertIn(key, bounce)
        self.assertEqual(bounce["action"], "failed")
        self.assertEqual(bounce["status"], "5.1.1")
        self.assertEqual(lines[1]["feedbackType"], "abuse")
        self.assertTrue(lines[1]["recipients"])

    def test_not_bounces(self):
        for name in ("is-not-bounce-01.eml", "is-not-bounce-02.eml"):
            out = run("bounce-parse", os.path.join(CORPUS, "maildir", "not", name))
            self.assertEqual(json.loads(out.stdout)["kind"], "none", name)

    def test_bad_input(self):
        out = run("bounce-parse", "/nonexistent/file.eml")
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot read", out.stderr)
        self.assertEqual(run("bounce-parse").returncode, 2)
        self.assertEqual(run("bounce-eval", CORPUS).returncode, 2)


if __name__ == "__main__":
    unittest.main()


class SuppressionCli(unittest.TestCase):
    def test_import_export_add_remove_and_the_running_server_sees_them(self):
        from harness import Sesame
        server = Sesame()
        try:
            cfg = ["--config", server.config_path]
            bad = os.path.join(server.data_dir, "bad.csv")
            with open(bad, "w") as f:
                f.write("EmailAddress,Reason\na@example.com,BOUNCE\nnot-an-address,BOUNCE\nb@example.com,SPAM\n")
            out = run("suppression", "import", bad, *cfg)
            self.assertEqual(out.returncode, 2)
            self.assertIn("bad.csv:3: not an email address", out.stderr)
            self.assertIn("bad.csv:4: the reason must be BOUNCE or COMPLAINT", out.stderr)
            self.assertEqual(run("suppression", "list", "--json", *cfg).stdout, "")  # nothing imported
            good = os.path.join(server.data_dir, "good.txt")
            with open(good, "w") as f:
                f.write("a@example.com,BOUNCE\n{\"EmailAddress\": \"B@Example.com\", \"Reason\": \"COMPLAINT\"}\n\n")
            out = run("suppression", "import", good, *cfg)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("imported 2", out.stdout)
            listed = [json.loads(l) for l in run("suppression", "list", "--json", *cfg).stdout.splitlines()]
            self.assertEqual({(d["EmailAddress"], d["Reason"]) for d in listed},
                             {("a@example.com", "BOUNCE"), ("B@Example.com", "COMPLAINT")})
            self.assertEqual(run("suppression", "add", "c@example.com", "COMPLAINT", *cfg).returncode, 0)
            self.assertEqual(run("suppression", "add", "c@example.com", "OTHER", *cfg).returncode, 2)
            self.assertEqual(run("suppression", "remove", "a@example.com", *cfg).returncode, 0)
            self.assertEqual(run("suppression", "remove", "a@example.com", *cfg).returncode, 1)
            exported = os.path.join(server.data_dir, "export.csv")
            self.assertEqual(run("suppression", "export", exported, *cfg).returncode, 0)
            with open(exported) as f:
                rows = f.read().splitlines()
            self.assertEqual(rows[0], "EmailAddress,Reason,LastUpdateTime")
            self.assertEqual(sorted(r.split(",")[0] for r in rows[1:]), ["B@Example.com", "c@example.com"])
            # The export imports back as it is.
            self.assertEqual(run("suppression", "import", exported, *cfg).returncode, 0)
            # A running server serves what the CLI wrote.
            server.start()
            import urllib.request
            key = json.loads(run("keys", "create", "--json", *cfg).stdout)
            import boto3
            v2 = boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{server.ports['http']}",
                              region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"])
            got = v2.get_suppressed_destination(EmailAddress="c@example.com")["SuppressedDestination"]
            self.assertEqual(got["Reason"], "COMPLAINT")
        finally:
            server.cleanup()
