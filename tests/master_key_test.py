"""`sesame keys rotate-master` on a running server: every secret (access keys, DKIM keys) is sealed
again under a new master key while the API, SMTP AUTH and DKIM signing go on without a restart;
the previous key stays until --retire-previous; a rotation cut short after the file was replaced
leaves a server that works, and running the command again completes it; --prepare stages the next
key for a cluster without using it."""
import base64
import json
import os
import smtplib
import subprocess
import unittest

from harness import BINARY, Sesame, smtp_password, tls_client_context
from dkim_test import DOMAIN, captured, identity_records

try:
    import boto3
    import dkim
except ImportError:  # pragma: no cover
    boto3 = dkim = None


@unittest.skipUnless(boto3 and dkim, "python3-boto3 or python3-dkim missing")
class RotateMaster(unittest.TestCase):
    def setUp(self):
        self.server = Sesame(delivery="delivery: {mode: capture}\napi: {local_mailbox: true, auto_verify: true}\n"
                             ).start()
        self.master = self.server.data_dir + ".master.key"
        self.key = json.loads(self.cli("keys", "create", "--json").stdout)
        self.endpoint = f"http://127.0.0.1:{self.server.ports['http']}"
        self.v2 = boto3.client("sesv2", endpoint_url=self.endpoint, region_name="us-east-1",
                               aws_access_key_id=self.key["AccessKeyId"],
                               aws_secret_access_key=self.key["SecretAccessKey"])
        self.v2.create_email_identity(EmailIdentity=DOMAIN)
        self.txt = {r["Name"] + ".": r["Value"] for r in identity_records(self.server, DOMAIN)}

    def tearDown(self):
        self.server.cleanup()

    def cli(self, *args, check=True):
        return subprocess.run([BINARY, *args, "--config", self.server.config_path],
                              capture_output=True, text=True, check=check, timeout=60)

    def lines(self):
        return [l for l in open(self.master).read().splitlines() if l]

    def sealed(self):
        """The access keys file's sealed secrets, as stored."""
        return [l.split("\t")[2] for l in open(self.server.data_dir + "/access-keys").read().splitlines()
                if l and not l.startswith("#")]

    def assert_everything_works(self):
        # The API (SigV4 needs the secret opened) ...
        self.assertIn("SendQuota", self.v2.get_account())
        # ... SMTP AUTH with the key's SES SMTP password ...
        with smtplib.SMTP("127.0.0.1", self.server.ports["smtp"], timeout=10) as s:
            s.starttls(context=tls_client_context())
            s.login(self.key["AccessKeyId"], smtp_password(self.key["SecretAccessKey"]))
        # ... and DKIM signing with the domain's unchanged key.
        mid = self.v2.send_email(FromEmailAddress=f"r@{DOMAIN}", Destination={"ToAddresses": ["x@example.org"]},
                                 Content={"Simple": {"Subject": {"Data": "rotated"},
                                                     "Body": {"Text": {"Data": "body"}}}})["MessageId"]
        raw = captured(self, self.endpoint, mid)["RawData"].encode()
        self.assertEqual(raw.count(b"DKIM-Signature:"), 1)
        self.assertTrue(dkim.verify(raw, dnsfunc=lambda n, timeout=5: self.txt.get(n.decode()).encode()))

    def test_rotation_and_retirement_while_serving(self):
        self.assert_everything_works()
        before_key, before_sealed = self.lines(), self.sealed()
        dkim_before = self.cli("identity", "records", DOMAIN, "--json").stdout
        out = self.cli("keys", "rotate-master")
        self.assertIn("master key rotated: 1 access key(s) and 1 DKIM key(s) re-sealed", out.stdout)
        after = self.lines()
        self.assertEqual(len(after), 2)
        self.assertNotEqual(after[0], before_key[0])
        self.assertEqual(after[1], before_key[0])  # the previous key, kept
        self.assertNotEqual(self.sealed(), before_sealed)
        self.assertEqual(self.cli("identity", "records", DOMAIN, "--json").stdout, dkim_before)
        self.assert_everything_works()  # no restart
        out = self.cli("keys", "rotate-master", "--retire-previous")
        self.assertIn("1 earlier key(s) removed", out.stdout)
        self.assertEqual(self.lines(), after[:1])
        self.assert_everything_works()
        # A restart reads everything with the new key alone.
        self.server.stop()
        self.server.start()
        self.assert_everything_works()
        self.assertEqual(self.cli("identity", "records", DOMAIN, "--json").stdout, dkim_before)

    def test_a_rotation_cut_short_is_completed_by_running_it_again(self):
        # The state a crash leaves right after the file was replaced: a new current key, nothing
        # re-sealed yet. The server still opens everything (the previous key is in the file).
        old = self.lines()
        fresh = base64.b64encode(os.urandom(32)).decode()
        with open(self.master, "w") as f:
            f.write(fresh + "\n" + old[0] + "\n")
        self.assert_everything_works()
        self.server.stop()
        self.server.start()
        self.assert_everything_works()
        self.cli("keys", "rotate-master")
        self.assertEqual(len(self.lines()), 3)
        self.cli("keys", "rotate-master", "--retire-previous")
        self.assertEqual(len(self.lines()), 1)
        self.server.stop()
        self.server.start()
        self.assert_everything_works()

    def test_a_secret_no_key_opens_stops_the_retirement(self):
        # A file that lost the key the secrets are sealed under: nothing is changed or dropped.
        old = self.lines()
        fresh = base64.b64encode(os.urandom(32)).decode()
        with open(self.master, "w") as f:
            f.write(fresh + "\n")
        out = self.cli("keys", "rotate-master", "--retire-previous", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("does not decrypt with any key", out.stderr)
        self.assertEqual(self.lines(), [fresh])
        with open(self.master, "w") as f:
            f.write(old[0] + "\n")
        self.assert_everything_works()

    def test_prepare_stages_the_next_key_for_a_cluster(self):
        old = self.lines()
        self.assertIn("copy the file to every node", self.cli("keys", "rotate-master", "--prepare").stdout)
        staged = self.lines()
        self.assertEqual(staged[0], old[0])  # still sealing with the current key
        self.assertTrue(staged[1].startswith("next "))
        # A key made meanwhile is sealed under the current key, which every node holds.
        created = json.loads(self.cli("keys", "create", "--json").stdout)
        self.cli("keys", "rotate-master")
        rotated = self.lines()
        self.assertEqual(rotated, [staged[1][5:], old[0]])  # the staged key is now current
        self.assert_everything_works()
        v2 = boto3.client("sesv2", endpoint_url=self.endpoint, region_name="us-east-1",
                          aws_access_key_id=created["AccessKeyId"], aws_secret_access_key=created["SecretAccessKey"])
        self.assertIn("SendQuota", v2.get_account())


if __name__ == "__main__":
    unittest.main()
