"""Several Sesame nodes sharing one PostgreSQL store and one Redis (issue 17):
what one node changes, the other enforces within a second; a PostgreSQL
outage loses nothing, refuses writes with 503 ServiceUnavailable, shows on
/ready, and heals with no restart. On Redis, the account's MaxSendRate and a
site's connection limit hold for the nodes together (measured at the sink),
a killed node's connection slots come free within the lease time, and a
Redis outage falls back to each node's share.

PostgreSQL is Debian's postgresql-15, initdb'd into a temporary directory on a
free port, as the `postgres` user when the test runs as root (initdb refuses
root)."""
import json
import os
import smtplib
import threading
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import BINARY, Sesame, free_port, inject, metric, read_outcomes, requires, wait_until
from dns_helper import Dnsmasq
from servers import PG_BIN, Postgres, Redis
from sink import FaultSink

try:
    import boto3
    import botocore
except ImportError:  # pragma: no cover
    boto3 = None



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
        # The alarm fires only on the cluster's total: each node sends 3.
        yaml = (f"store: {{backend: postgres, dsn: \"{cls.pg.dsn}\"}}\n"
                f"api: {{auto_verify: true, sandbox: true, master_key_file: {cls.master}}}\n"
                "alarms:\n  - {name: cluster-sends, metric: sends, statistic: Sum, period_seconds: 300,"
                " threshold: 5, comparison: GreaterThanThreshold}\n")
        cls.a = Sesame(delivery="delivery: {mode: capture}\n", extra_yaml=yaml)
        cls.b = Sesame(delivery="delivery: {mode: capture}\n", extra_yaml=yaml)
        # C sends from its snapshots for 2 s of an outage only.
        cls.c = Sesame(delivery="delivery: {mode: capture}\n", relay=True,
                       extra_yaml=yaml.replace("\"}", "\", outage_grace_seconds: 2}", 1))
        # The first creates the shared master key; the second must find it.
        subprocess.run([BINARY, "keys", "list", "--config", cls.a.config_path], check=True, capture_output=True)
        cls.a.start()
        cls.b.start()
        cls.c.start()
        key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", cls.a.config_path],
                                        capture_output=True, text=True, check=True).stdout)
        cls.key = key

    @classmethod
    def tearDownClass(cls):
        cls.a.cleanup()
        cls.b.cleanup()
        cls.c.cleanup()
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

    def alarm(self, node):
        return node.admin("/admin/alarms")[0]["StateValue"]

    def attempts(self, node):
        points = self.client(node, "ses").get_send_statistics()["SendDataPoints"]
        return sum(p["DeliveryAttempts"] for p in points)

    def test_leader_evaluates_the_clusters_statistics_and_fails_over(self):
        nodes = (self.a, self.b, self.c)
        leader_of = lambda: [n for n in nodes if n.proc.poll() is None
                             and metric(n.ports["http"], "sesame_cluster_leader") == 1]
        self.assertTrue(wait_until(lambda: len(leader_of()) == 1, 10))
        leader = leader_of()[0]
        followers = [n for n in nodes if n is not leader]
        for n in followers:  # periodic work runs on the leader alone
            self.assertEqual(self.alarm(n), "INSUFFICIENT_DATA")
        before = self.attempts(self.c)
        self.client(self.a, "sesv2").create_email_identity(EmailIdentity="cluster-five.example")
        self.assertTrue(wait_until(lambda: self.code(
            lambda: self.send(self.b, "x@cluster-five.example", "y@cluster-five.example")) is None, 1))
        for _ in range(3):
            self.send(self.a, "x@cluster-five.example", "y@cluster-five.example")
        for _ in range(2):
            self.send(self.b, "x@cluster-five.example", "y@cluster-five.example")
        # 3 + 3 sends: over the threshold only for the cluster's total.
        self.assertTrue(wait_until(lambda: self.alarm(leader) == "ALARM", 20), leader.admin("/admin/alarms"))
        # The followers show the leader's view: the state and its history.
        for n in followers:
            self.assertTrue(wait_until(lambda: self.alarm(n) == "ALARM", 15), n.admin("/admin/alarms"))
            self.assertTrue(any(h["newState"] == "ALARM" for h in n.admin("/admin/alarms/history")))
        # GetSendStatistics on C, which sent none of them, counts them all.
        self.assertTrue(wait_until(lambda: self.attempts(self.c) >= before + 6, 15),
                        (before, self.attempts(self.c)))
        leader.kill9()
        killed = time.time()
        try:
            self.assertTrue(wait_until(lambda: len(leader_of()) == 1, 30))
            successor = leader_of()[0]
            self.assertTrue(wait_until(lambda: self.alarm(successor) == "ALARM", 30 - (time.time() - killed)))
            took = time.time() - killed
            self.assertLess(took, 30)
        finally:
            leader.start()
        print(f"\nleader: alarm evaluation resumed on another node {took:.1f} s after the leader was killed")

    def node_cli(self, node, *args):
        return subprocess.run([BINARY, "node", *args, "--config", node.config_path],
                              capture_output=True, text=True, timeout=60)

    def test_node_list_and_drain(self):
        nodes = (self.a, self.b, self.c)
        def settled():
            # After a leader's kill -9 (the test above) its last heartbeat
            # claims the lead until a newer claim outdates it.
            listed = json.loads(self.node_cli(self.a, "list", "--json").stdout)
            return len(listed) == 3 and all(n["live"] for n in listed) and sum(n["leader"] for n in listed) == 1
        self.assertTrue(wait_until(settled, 15), self.node_cli(self.a, "list").stdout)
        listed = json.loads(self.node_cli(self.a, "list", "--json").stdout)
        self.assertEqual(len({n["id"] for n in listed}), 3)
        self.assertEqual(sorted(n["http"] for n in listed),
                         sorted(f"127.0.0.1:{n.ports['http']}" for n in nodes))
        self.assertEqual(sum(n["leader"] for n in listed), 1)
        self.assertTrue(all(n["version"] and isinstance(n["queued"], int) for n in listed))
        table = self.node_cli(self.b, "list").stdout
        self.assertIn("NODE", table)
        self.assertEqual(len(table.strip().splitlines()), 4, table)
        # Drain C: /ready fails (the load balancer takes it out), new sends
        # are refused transiently; A goes on; resume undoes it.
        self.client(self.a, "sesv2").create_email_identity(EmailIdentity="cluster-six.example")
        self.assertTrue(wait_until(lambda: self.code(
            lambda: self.send(self.c, "x@cluster-six.example", "y@cluster-six.example")) is None, 1))
        out = self.node_cli(self.c, "drain")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(json.loads(out.stdout)["draining"])
        status, body = ready(self.c)
        self.assertEqual((status, body["draining"]), (503, True))
        self.assertEqual(self.code(lambda: self.send(self.c, "x@cluster-six.example", "y@cluster-six.example")),
                         "ServiceUnavailable")
        self.assertIsNone(self.code(lambda: self.send(self.a, "x@cluster-six.example", "y@cluster-six.example")))
        self.assertTrue(wait_until(lambda: any(n["draining"] for n in json.loads(
            self.node_cli(self.a, "list", "--json").stdout)), 10))
        out = self.node_cli(self.c, "resume")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(ready(self.c)[0], 200)
        self.assertIsNone(self.code(lambda: self.send(self.c, "x@cluster-six.example", "y@cluster-six.example")))

    def test_outage_keeps_sending_refuses_writes_and_heals(self):
        v2 = self.client(self.a, "sesv2")
        v2.create_email_identity(EmailIdentity="cluster-three.example")
        self.assertTrue(wait_until(lambda: self.code(
            lambda: self.send(self.b, "x@cluster-three.example", "y@cluster-three.example")) is None, 1))
        self.assertEqual(ready(self.a)[0], 200)
        v2.put_suppressed_destination(EmailAddress="gone@cluster-three.example", Reason="BOUNCE")
        outage = float(os.environ.get("SESAME_PG_OUTAGE_SECONDS", "20"))
        self.pg.stop()
        stopped = time.time()
        ids, smtp_replies = [], []
        try:
            # Writes are refused, transiently, with a plain message.
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v2.create_email_identity(EmailIdentity="cluster-four.example")
            err = ctx.exception.response
            self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 503)
            self.assertEqual(err["Error"]["Code"], "ServiceUnavailable")
            self.assertNotIn("55", err["Error"]["Message"].replace("503", ""))  # no host or port leaks
            self.assertTrue(wait_until(lambda: ready(self.a)[0] == 503, 5))
            self.assertFalse(ready(self.a)[1]["store"])
            # A suppressed address stays suppressed though the list cannot
            # be read.
            gone = self.send(self.a, "x@cluster-three.example", "gone@cluster-three.example")
            # Sends go on from the snapshots, on both nodes, all along.
            while time.time() - stopped < outage:
                ids += [self.send(n, "x@cluster-three.example", "y@cluster-three.example") for n in (self.a, self.b)]
                time.sleep(0.5)
            # C's grace (2 s) is over: its sends wait, transiently, on the API
            # and over SMTP.
            self.assertEqual(self.code(lambda: self.send(self.c, "x@cluster-three.example",
                                                         "y@cluster-three.example")), "ServiceUnavailable")
            s = smtplib.SMTP("127.0.0.1", self.c.ports["smtp"], timeout=10)
            s.ehlo("grace.test")
            try:
                s.sendmail("x@cluster-three.example", ["y@cluster-three.example"],
                           "From: x@cluster-three.example\r\nSubject: g\r\n\r\ng\r\n")
            except smtplib.SMTPDataError as e:
                smtp_replies.append((e.smtp_code, e.smtp_error.decode()))
            s.quit()
        finally:
            self.pg.start()
        self.assertEqual(len(smtp_replies), 1)
        self.assertEqual(smtp_replies[0][0], 451, smtp_replies)
        self.assertIn("outage_grace_seconds", smtp_replies[0][1])
        self.assertTrue(wait_until(lambda: all(ready(n)[0] == 200 for n in (self.a, self.b, self.c)), 10))
        self.assertTrue(wait_until(lambda: self.code(
            lambda: v2.create_email_identity(EmailIdentity="cluster-four.example")) is None, 10))
        self.assertTrue(wait_until(lambda: self.code(
            lambda: self.send(self.b, "x@cluster-four.example", "y@cluster-four.example")) is None, 1))
        self.assertIsNone(self.code(lambda: self.send(self.c, "x@cluster-four.example", "y@cluster-four.example")))
        rows = [o for o in read_outcomes(self.a.data_dir) if o.get("messageId") == gone]
        self.assertEqual({o["outcome"] for o in rows}, {"suppressed"}, rows)
        # Nothing sent during the outage was lost.
        for node in (self.a, self.b):
            self.assertTrue(wait_until(lambda: {o.get("messageId") for o in read_outcomes(node.data_dir)}
                                       >= set(ids[0 if node is self.a else 1::2]), 10))
        print(f"\npostgres outage: {len(ids)} sends through the snapshots in {outage:.0f} s, all delivered; "
              f"C refused after its 2 s grace: {smtp_replies[0][0]}")

def v2_client(node, key):
    return boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{node.ports['http']}", region_name="us-east-1",
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def push(nodes, key, seconds, threads=3):
    """Every node pushed by `threads` SendEmail loops for `seconds`: the times
    (since the start) of the sends each accepted, and whether anything but a
    throttling error came back."""
    accepted, other = [], []
    start = time.time()

    def loop(v2):
        while time.time() - start < seconds:
            try:
                v2.send_email(FromEmailAddress="q@quota.example", Destination={"ToAddresses": ["r@fast.test"]},
                              Content={"Simple": {"Subject": {"Data": "q"}, "Body": {"Text": {"Data": "q"}}}})
                accepted.append(time.time() - start)
            except botocore.exceptions.ClientError as e:
                if e.response["Error"]["Code"] != "TooManyRequestsException":
                    other.append(e.response["Error"]["Code"])
    # boto3 makes clients safely on one thread only.
    clients = [v2_client(n, key) for n in nodes for _ in range(threads)]
    workers = [threading.Thread(target=loop, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return accepted, other


@requires(os.path.exists(os.path.join(PG_BIN, "initdb")), "postgresql-15 missing")
@unittest.skipUnless(boto3, "python3-boto3 missing")
class Import(unittest.TestCase):
    """sesame store import: a single node's state into an empty shared store."""

    def test_single_node_state_moves_into_postgres(self):
        pg = Postgres().start()
        node = Sesame(delivery="delivery: {mode: capture}\n", extra_yaml="api: {auto_verify: true}\n")
        try:
            pg.run("createdb", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "sesame", "sesame")
            node.start()
            key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", node.config_path],
                                            capture_output=True, text=True, check=True).stdout)
            v2 = v2_client(node, key)
            v2.create_email_identity(EmailIdentity="moving.example")
            v2.put_suppressed_destination(EmailAddress="gone@moving.example", Reason="COMPLAINT")
            node.stop()
            master = node.data_dir.rstrip("/") + ".master.key"
            self.assertTrue(os.path.exists(master))
            shared = Sesame(delivery="delivery: {mode: capture}\n", data_dir=node.data_dir, extra_yaml=(
                f"store: {{backend: postgres, dsn: \"{pg.dsn}\"}}\n"
                f"api: {{auto_verify: true, master_key_file: {master}}}\n"))
            out = subprocess.run([BINARY, "store", "import", "--config", shared.config_path],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertRegex(out.stdout, r"imported [1-9][0-9]* documents of [0-9]+ kinds and [12] credential files")
            # Twice is refused: the shared store is no longer empty.
            again = subprocess.run([BINARY, "store", "import", "--config", shared.config_path],
                                   capture_output=True, text=True)
            self.assertEqual(again.returncode, 1)
            self.assertIn("already holds state", again.stderr)
            # The state.db is set aside: the node now reads only PostgreSQL.
            os.rename(os.path.join(node.data_dir, "state.db"), os.path.join(node.data_dir, "state.db.moved"))
            for f in ("access-keys", "iam.json"):
                if os.path.exists(os.path.join(node.data_dir, f)):
                    os.rename(os.path.join(node.data_dir, f), os.path.join(node.data_dir, f + ".moved"))
            shared.start()
            v2 = v2_client(shared, key)  # the same key, now from the store
            self.assertEqual(v2.get_email_identity(EmailIdentity="moving.example")["IdentityType"], "DOMAIN")
            self.assertEqual(v2.get_suppressed_destination(EmailAddress="gone@moving.example")
                             ["SuppressedDestination"]["Reason"], "COMPLAINT")
            shared.stop()
        finally:
            node.cleanup()
            pg.cleanup()


@requires(os.path.exists(os.path.join(PG_BIN, "initdb")), "postgresql-15 missing")
@requires(shutil.which("redis-server"), "redis-server missing")
@unittest.skipUnless(boto3, "python3-boto3 missing")
class SharedThrottles(unittest.TestCase):
    """Two nodes on one PostgreSQL and one Redis, delivering to one sink whose
    site allows 4 connections; the account sends 50 recipients a second."""

    LEASE_SECONDS = 3

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres().start()
        cls.pg.run("createdb", "-h", "127.0.0.1", "-p", str(cls.pg.port), "-U", "sesame", "sesame")
        cls.redis = Redis().start()
        # Every message is held 0.4 s before its 250: connections pile up.
        cls.sink = FaultSink(host="127.0.0.2", p_stall=1.0, stall_seconds=0.4).start()
        cls.fast = FaultSink(host="127.0.0.3", port=cls.sink.port).start()  # the quota test's
        # MX sites (a static route's health probes would be connections the
        # site limit does not cover).
        cls.dns = Dnsmasq(mx=[("sink.test", "mx.sink.test", 10), ("fast.test", "mx.fast.test", 10)],
                          hosts=[("mx.sink.test", "127.0.0.2"), ("mx.fast.test", "127.0.0.3")])
        cls.master = os.path.join(tempfile.mkdtemp(prefix="sesame-master-"), "master.key")
        yaml = (f"store: {{backend: postgres, dsn: \"{cls.pg.dsn}\"}}\n"
                f"redis: {{address: \"127.0.0.1:{cls.redis.port}\", lease_seconds: {cls.LEASE_SECONDS}}}\n"
                f"api: {{auto_verify: true, master_key_file: {cls.master}}}\n"
                "quotas: {max_send_rate: 50}\n")
        delivery = ("delivery:\n  mode: smtp\n  retry: {first_seconds: 1, factor: 2, max_seconds: 2}\n"
                    f"  resolver: {cls.dns.address}\n  mx_port: {cls.sink.port}\n"
                    "  shaping:\n    default: {max_connections: 20, messages_per_connection: 5}\n"
                    "    rules: [{match: sink.test, max_connections: 4}]\n")
        cls.a = Sesame(delivery=delivery + "  source_address: 127.0.0.4\n", extra_yaml=yaml, relay=True)
        cls.b = Sesame(delivery=delivery, extra_yaml=yaml, relay=True)
        subprocess.run([BINARY, "keys", "list", "--config", cls.a.config_path], check=True, capture_output=True)
        cls.a.start()
        cls.b.start()
        cls.key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", cls.a.config_path],
                                            capture_output=True, text=True, check=True).stdout)

    @classmethod
    def tearDownClass(cls):
        for node in (cls.a, cls.b):
            node.cleanup()
        cls.sink.stop()
        cls.fast.stop()
        cls.dns.stop()
        cls.redis.cleanup()
        cls.pg.cleanup()
        shutil.rmtree(os.path.dirname(cls.master), ignore_errors=True)

    def inject_all(self, node, n, tag):
        """n messages into `node` over SMTP, again for any the quota throttled."""
        msgs = [("q@quota.example", ["r@sink.test"], f"{tag}-{i}") for i in range(n)]
        todo, deadline = list(range(n)), time.time() + 30
        while todo and time.time() < deadline:
            acked = inject(node.ports["smtp"], [msgs[i] for i in todo], sessions=2)
            todo = [i for j, i in enumerate(todo) if j not in acked]
            time.sleep(0.2)
        self.assertEqual(todo, [])

    def wait_drained(self, sink, want):
        self.assertTrue(wait_until(lambda: sink.count() >= want, 60), (sink.count(), want))

    def test_1_quota_is_cluster_wide(self):
        # The first two seconds spend the one-second burst; the ten after it
        # are the measure: 50/s for the account, not 50/s for each node.
        accepted, other = push([self.a, self.b], self.key, 12)
        self.assertEqual(other, [])
        window = [t for t in accepted if t >= 2]
        self.assertGreaterEqual(len(window), 450, len(window))
        self.assertLessEqual(len(window), 550, len(window))
        print(f"\nquota: {len(window)} sends accepted by 2 nodes in 10 s at MaxSendRate 50 "
              f"({len(accepted)} in 12 s)")
        # GetSendQuota reports the cluster's count on both nodes.
        time.sleep(1.5)
        for node in (self.a, self.b):
            sent = v2_client(node, self.key).get_account()["SendQuota"]["SentLast24Hours"]
            self.assertGreaterEqual(sent, len(accepted), node.ports)
        self.wait_drained(self.fast, len(accepted))

    def test_2_connection_limit_holds_for_both_nodes_and_frees_on_kill(self):
        base = self.sink.count()
        self.sink.peak = 0
        self.inject_all(self.a, 60, "conn-a")
        self.inject_all(self.b, 100, "conn-b")
        # A's connections come from 127.0.0.4: it must hold slots when killed.
        self.assertTrue(wait_until(lambda: self.sink.active >= 4 and self.sink.active_by_peer.get("127.0.0.4"), 10))
        self.assertLessEqual(self.sink.peak, 4)
        held = self.sink.active_by_peer["127.0.0.4"]
        self.a.kill9()
        killed = time.time()
        # Its slots come free when their leases lapse (renewed every third of
        # the lease time), and B, with a backlog, takes all four.
        self.assertTrue(wait_until(
            lambda: any(t > killed + 0.5 and n >= 4 for t, n in list(self.sink.active_log)),
            self.LEASE_SECONDS + 5))
        freed = min(t for t, n in self.sink.active_log if t > killed + 0.5 and n >= 4) - killed
        self.assertGreater(freed, self.LEASE_SECONDS / 2)
        self.assertLess(freed, self.LEASE_SECONDS + 1)
        self.assertLessEqual(self.sink.peak, 4)
        self.a.start()
        self.wait_drained(self.sink, base + 160)
        self.assertLessEqual(self.sink.peak, 4)
        print(f"\nconnection limit: peak {self.sink.peak} of 4 at the sink from 2 nodes; A was killed holding "
              f"{held}, B had all 4 {freed:.1f} s later (lease {self.LEASE_SECONDS} s)")

    def test_4_drain_delivers_the_queue(self):
        base = self.sink.count()
        self.inject_all(self.b, 30, "drain")
        out = subprocess.run([BINARY, "node", "drain", "--wait", "--config", self.b.config_path],
                             capture_output=True, text=True, timeout=120)
        try:
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("drained", out.stdout)
            self.assertEqual(ready(self.b)[1]["draining"], True)
            self.assertGreaterEqual(self.sink.count(), base + 30)
            # A draining node takes no new mail (451, transient).
            self.assertEqual(inject(self.b.ports["smtp"], [("q@quota.example", ["r@sink.test"], "late")],
                                    sessions=1), {})
        finally:
            subprocess.run([BINARY, "node", "resume", "--config", self.b.config_path], capture_output=True)
        self.assertEqual(ready(self.b)[0], 200)

    def test_3_redis_outage_falls_back_to_local_shares(self):
        self.redis.kill()
        try:
            self.assertTrue(wait_until(lambda: metric(self.a.ports["http"], "sesame_cluster_redis_up") == 0, 5))
            # Each node keeps half the rate: 25/s (and a burst of 25).
            accepted, other = push([self.a], self.key, 4)
            self.assertEqual(other, [])
            self.assertGreaterEqual(len(accepted), 60)
            self.assertLessEqual(len(accepted), 25 + 4 * 25 + 5)
            self.assertGreater(metric(self.a.ports["http"], "sesame_cluster_fallback_decisions_total"), 0)
        finally:
            self.redis.start()
        self.assertTrue(wait_until(lambda: metric(self.a.ports["http"], "sesame_cluster_redis_up") == 1, 5))
        v2_client(self.b, self.key).send_email(
            FromEmailAddress="q@quota.example", Destination={"ToAddresses": ["r@fast.test"]},
            Content={"Simple": {"Subject": {"Data": "q"}, "Body": {"Text": {"Data": "q"}}}})
        print(f"\nredis outage: node A accepted {len(accepted)} sends in 4 s on its half share of 50/s")


if __name__ == "__main__":
    unittest.main()
