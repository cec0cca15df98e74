"""Several Sesame nodes sharing one PostgreSQL store (issue 17): what one node
changes, the other enforces within a second; a PostgreSQL outage loses
nothing, refuses writes with 503 ServiceUnavailable, shows on /ready, and
heals with no restart.

PostgreSQL is Debian's postgresql-15, initdb'd into a temporary directory on a
free port, as the `postgres` user when the test runs as root (initdb refuses
root)."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import BINARY, Sesame, free_port, read_outcomes, requires, wait_until

try:
    import boto3
    import botocore
except ImportError:  # pragma: no cover
    boto3 = None

PG_BIN = "/usr/lib/postgresql/15/bin"


class Postgres:
    """A throwaway PostgreSQL server: start, stop (fast shutdown), start again."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sesame-pg-")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = os.path.join(self.dir, "data")
        self.dsn = f"host=127.0.0.1 port={self.port} user=sesame dbname=sesame"
        self.run("initdb", "-D", self.data, "-A", "trust", "-U", "sesame")

    def run(self, tool, *args):
        subprocess.run(self.as_user + [os.path.join(PG_BIN, tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "start", "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1")
        return self

    def stop(self):
        self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def cleanup(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def ready(node):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.ports['http']}/ready", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@requires(os.path.exists(os.path.join(PG_BIN, "initdb")), "postgresql-15 missing")
@unittest.skipUnless(boto3, "python3-boto3 missing")
class TwoNodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres().start()
        cls.pg.run("createdb", "-h", "127.0.0.1", "-p", str(cls.pg.port), "-U", "sesame", "sesame")
        cls.master = os.path.join(tempfile.mkdtemp(prefix="sesame-master-"), "master.key")
        # Both nodes migrate at once: the advisory lock lets one do it.
        yaml = (f"store: {{backend: postgres, dsn: \"{cls.pg.dsn}\"}}\n"
                f"api: {{auto_verify: true, sandbox: true, master_key_file: {cls.master}}}\n")
        cls.a = Sesame(delivery="delivery: {mode: capture}\n", extra_yaml=yaml)
        cls.b = Sesame(delivery="delivery: {mode: capture}\n", extra_yaml=yaml)
        # The first creates the shared master key; the second must find it.
        subprocess.run([BINARY, "keys", "list", "--config", cls.a.config_path], check=True, capture_output=True)
        cls.a.start()
        cls.b.start()
        key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", cls.a.config_path],
                                        capture_output=True, text=True, check=True).stdout)
        cls.key = key

    @classmethod
    def tearDownClass(cls):
        cls.a.cleanup()
        cls.b.cleanup()
        cls.pg.cleanup()
        shutil.rmtree(os.path.dirname(cls.master), ignore_errors=True)

    def client(self, node, service, key=None):
        key = key or self.key
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{node.ports['http']}",
                            region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"],
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def send(self, node, sender, to):
        return self.client(node, "sesv2").send_email(
            FromEmailAddress=sender, Destination={"ToAddresses": [to]},
            Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}})["MessageId"]

    def code(self, fn):
        try:
            fn()
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]
        return None

    def test_schema_is_migrated_once(self):
        out = subprocess.run([BINARY, "store", "migrate", "--config", self.a.config_path],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.strip(), "schema at version 1 (0 migrations applied)")

    def test_identity_created_on_a_sends_through_b_at_once(self):
        # Sandbox: a recipient must be verified too, so the identity decides.
        self.assertEqual(self.code(lambda: self.send(self.b, "x@cluster-one.example", "y@cluster-one.example")),
                         "MessageRejected")
        self.client(self.a, "sesv2").create_email_identity(EmailIdentity="cluster-one.example")
        started = time.time()
        self.assertTrue(wait_until(lambda: self.code(
            lambda: self.send(self.b, "x@cluster-one.example", "y@cluster-one.example")) is None, 1))
        self.assertLess(time.time() - started, 1.0)

    def test_suppression_added_on_b_stops_a_send_through_a(self):
        self.client(self.a, "sesv2").create_email_identity(EmailIdentity="cluster-two.example")
        self.client(self.b, "sesv2").put_suppressed_destination(EmailAddress="gone@cluster-two.example",
                                                                Reason="BOUNCE")
        # At once: the suppression list is read from the shared store.
        mid = self.send(self.a, "x@cluster-two.example", "gone@cluster-two.example")
        self.assertTrue(wait_until(lambda: any(o.get("messageId") == mid for o in read_outcomes(self.a.data_dir)),
                                   10))
        rows = [o for o in read_outcomes(self.a.data_dir) if o.get("messageId") == mid]
        self.assertEqual({o["outcome"] for o in rows}, {"suppressed"}, rows)

    def test_key_revoked_on_a_is_refused_on_b(self):
        key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", self.a.config_path],
                                        capture_output=True, text=True, check=True).stdout)
        self.assertTrue(wait_until(lambda: self.code(lambda: self.client(self.b, "sesv2", key).get_account())
                                   is None, 1))
        self.client(self.a, "iam").delete_access_key(AccessKeyId=key["AccessKeyId"])
        started = time.time()
        self.assertTrue(wait_until(lambda: self.code(lambda: self.client(self.b, "sesv2", key).get_account())
                                   == "UnrecognizedClientException", 1))
        self.assertLess(time.time() - started, 1.0)

    def test_outage_keeps_sending_refuses_writes_and_heals(self):
        v2 = self.client(self.a, "sesv2")
        v2.create_email_identity(EmailIdentity="cluster-three.example")
        self.assertTrue(wait_until(lambda: self.code(
            lambda: self.send(self.b, "x@cluster-three.example", "y@cluster-three.example")) is None, 1))
        self.assertEqual(ready(self.a)[0], 200)
        self.pg.stop()
        try:
            # Sends go on from the snapshot, on both nodes.
            ids = [self.send(n, "x@cluster-three.example", "y@cluster-three.example") for n in (self.a, self.b)]
            # Writes are refused, transiently, with a plain message.
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v2.create_email_identity(EmailIdentity="cluster-four.example")
            err = ctx.exception.response
            self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 503)
            self.assertEqual(err["Error"]["Code"], "ServiceUnavailable")
            self.assertNotIn("55", err["Error"]["Message"].replace("503", ""))  # no host or port leaks
            self.assertTrue(wait_until(lambda: ready(self.a)[0] == 503, 5))
            self.assertFalse(ready(self.a)[1]["store"])
        finally:
            self.pg.start()
        self.assertTrue(wait_until(lambda: ready(self.a)[0] == 200 and ready(self.b)[0] == 200, 10))
        self.assertTrue(wait_until(lambda: self.code(
            lambda: v2.create_email_identity(EmailIdentity="cluster-four.example")) is None, 10))
        self.assertTrue(wait_until(lambda: self.code(
            lambda: self.send(self.b, "x@cluster-four.example", "y@cluster-four.example")) is None, 1))
        for node, mid in zip((self.a, self.b), ids):
            self.assertTrue(wait_until(
                lambda: any(o.get("messageId") == mid for o in read_outcomes(node.data_dir)), 10), mid)


if __name__ == "__main__":
    unittest.main()
