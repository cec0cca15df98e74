"""The AWS SDK for JavaScript v3 (client-sesv2, client-ses) and nodemailer's
SES transport, from npm, against build/sesame; what arrived is parsed back."""
import email
import email.policy
import json
import os
import shutil
import subprocess
import unittest
import urllib.request

from harness import BINARY, ROOT, Sesame, requires, wait_until

NODE_DIR = os.path.join(ROOT, "tests", "node")


@requires(shutil.which("node") and os.path.isdir(os.path.join(NODE_DIR, "node_modules")),
                     "node or tests/node/node_modules missing (make deps installs them)")
class NodeClients(unittest.TestCase):
    def test_sdk_v3_and_nodemailer(self):
        server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true, auto_verify: true}\n").start()
        try:
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            endpoint = f"http://127.0.0.1:{server.ports['http']}"
            env = dict(os.environ, ENDPOINT=endpoint, AWS_ACCESS_KEY_ID=key["AccessKeyId"],
                       AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"], AWS_REGION="us-east-1",
                       NODE_NO_WARNINGS="1")
            out = subprocess.run(["node", "clients.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True,
                                 timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            self.assertTrue(result["verify"], "nodemailer verify() must pass (InvalidParameterValue for invalid@invalid)")
            nm_id = result["nodemailer"]["response"]
            self.assertEqual(result["nodemailer"]["messageId"], f"<{nm_id}@email.amazonses.com>")

            def fetch(mid):
                got = []

                def poll():
                    with urllib.request.urlopen(f"{endpoint}/_aws/ses?id={mid}", timeout=5) as r:
                        got[:] = json.loads(r.read())["messages"]
                    return bool(got)
                self.assertTrue(wait_until(poll, 10), mid)
                return got[0], email.message_from_string(got[0]["RawData"], policy=email.policy.default)

            m, msg = fetch(result["v2"])
            self.assertEqual(str(msg["Subject"]), "from client-sesv2")
            self.assertEqual(m["Body"]["text_part"].strip(), "js v2 body")
            m, msg = fetch(result["v1"])
            self.assertEqual(m["Body"]["html_part"].strip(), "<b>js v1</b>")
            m, msg = fetch(nm_id)
            # nodemailer passes every recipient, Bcc included, as Destination: that is the envelope.
            self.assertEqual(sorted(m["Destination"]["ToAddresses"]),
                             ["a@example.org", "b@example.org", "hidden@example.org"])
            self.assertIsNone(msg["Bcc"])
            self.assertEqual(str(msg["Subject"]), "nodemailer with attachments ✓")
            self.assertEqual(msg["Cc"], "b@example.org")
            self.assertEqual(msg.get_body(("plain",)).get_content().strip(), "plain from nodemailer")
            atts = {p.get_filename(): p.get_content() for p in msg.walk() if p.get_filename()}
            self.assertEqual(atts["notes.txt"].strip(), "attached text")
            self.assertEqual(atts["data.bin"], bytes([0, 1, 2, 255]))
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
