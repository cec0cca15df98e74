#!/usr/bin/python3
"""Cluster benchmark (issue 17), run by bench/cluster.sh: the SMTP injection rate (smtp-source)
and the API SendEmail rate (wrk, one pre-signed SigV4 request per node) for

  sqlite    1 node, the embedded store
  postgres  1 node, store.backend postgres
  cluster   2 nodes on one PostgreSQL and one Redis (redis.address), the load split evenly

all on this machine, in one run. On 2 cores the nodes share the CPU, so the comparison is
CPU milliseconds per message for the whole machine (/proc/stat, as ../shared/peers does),
injector included. Each mode also reports PostgreSQL round trips per message: transactions
committed (pg_stat_database; every statement outside a transaction is one) during the run,
less what the same nodes commit idle over as long (LISTEN probes, heartbeats, statistics).

Every configuration has the same quota (MaxSendRate 1,000,000/s), so the cluster pays its Redis
round trip per send while the others take the in-process bucket. Delivery is on hold: this
measures admission and the durable spool.

Env: MSGS (20000) SESSIONS (20) SIZE (5000) DURATION (10, wrk seconds) CONNECTIONS (20),
     BREAKDOWN=1 adds the two nodes without Redis (what the second process costs, apart).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from servers import PG_BIN, Postgres, Redis, free_port  # noqa: E402
BIN = os.environ.get("SESAME_BIN", os.path.join(ROOT, "build", "sesame"))
MSGS = int(os.environ.get("MSGS", 20000))
SESSIONS = int(os.environ.get("SESSIONS", 20))
SIZE = int(os.environ.get("SIZE", 5000))
DURATION = int(os.environ.get("DURATION", 10))
CONNECTIONS = int(os.environ.get("CONNECTIONS", 20))
WORK = tempfile.mkdtemp(prefix="sesame-cluster-bench-")


def log(msg):
    print(f"[{time.strftime('%T')}] {msg}", file=sys.stderr, flush=True)


def cpu_busy_s():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def wait_http(port, path="/health", timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"node on {port} did not start")


class BenchPostgres(Postgres):
    """tests/servers.py's PostgreSQL, with a database per mode and its commit counter."""

    def __init__(self):
        super().__init__()
        self.start()
        self.db = 0

    def new_database(self):
        self.db += 1
        name = f"bench{self.db}"
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "sesame", name)
        return name, f"host=127.0.0.1 port={self.port} user=sesame dbname={name}"

    def commits(self, db):
        out = subprocess.run([os.path.join(PG_BIN, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                              "sesame", "-d", db, "-Atc",
                              f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{db}'"],
                             capture_output=True, text=True, check=True).stdout
        return int(out.strip())


class Node:
    def __init__(self, name, extra):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir)
        self.smtp, self.http = free_port(), free_port()
        self.config = os.path.join(self.dir, "sesame.yaml")
        with open(self.config, "w") as f:
            f.write(f"""profile: production
data_dir: {self.dir}/data
hostname: bench.sesame.test
log_level: warn
listeners:
  smtp: {{address: 127.0.0.1, port: {self.smtp}}}
  smtps: {{enabled: false}}
  mx: {{enabled: false}}
  http: {{address: 127.0.0.1, port: {self.http}}}
smtp:
  relay_networks: [127.0.0.0/8]
limits: {{max_connections_per_ip: 1000}}
delivery: {{mode: hold}}
quotas: {{max_send_rate: 1000000}}
{extra}""")
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_http(self.http)
        wait_http(self.http, "/ready")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def key(self):
        return json.loads(subprocess.run([BIN, "keys", "create", "--json", "--config", self.config],
                                         capture_output=True, text=True, check=True).stdout)

    def accepted(self, what):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(what + " "):
                    return float(line.split()[1])
        return 0.0


def signed_lua(node, key, path):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    body = json.dumps({"FromEmailAddress": "bench@example.com",
                       "Destination": {"ToAddresses": ["sink@example.org"]},
                       "Content": {"Simple": {"Subject": {"Data": "cluster bench"},
                                              "Body": {"Text": {"Data": ("x" * 70 + "\n") * 70}}}}})
    req = AWSRequest(method="POST", url=f"http://127.0.0.1:{node.http}/v2/email/outbound-emails",
                     data=body.encode(), headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "ses", "us-east-1").add_auth(req)
    lua = ['wrk.method = "POST"', "wrk.body = " + json.dumps(body)]
    lua += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in req.headers.items()]
    with open(path, "w") as f:
        f.write("\n".join(lua) + "\n")


def smtp_run(nodes):
    share = MSGS // len(nodes)
    t0, c0 = time.time(), cpu_busy_s()
    procs = [subprocess.Popen(["smtp-source", "-c", "-s", str(max(1, SESSIONS // len(nodes))), "-m", str(share),
                               "-l", str(SIZE), "-f", "a@example.com", "-t", "b@example.org",
                               f"127.0.0.1:{n.smtp}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for n in nodes]
    for p in procs:
        if p.wait(timeout=900) != 0:
            raise SystemExit("smtp-source failed: " + p.stderr.read().decode()[-300:])
    el, cpu = time.time() - t0, cpu_busy_s() - c0
    got = sum(n.accepted('sesame_smtp_messages_accepted_total{listener="smtp"}') for n in nodes)
    if got < share * len(nodes):
        raise SystemExit(f"accepted {got} of {share * len(nodes)}")
    return share * len(nodes) / el, cpu * 1000 / (share * len(nodes)), share * len(nodes)


def api_run(nodes):
    keys = [nodes[0].key()]  # a key of the shared store works on every node
    for i, n in enumerate(nodes):
        signed_lua(n, keys[0] if nodes[0].shared else n.key(), os.path.join(WORK, f"req{i}.lua"))
    before = sum(n.accepted("sesame_api_messages_accepted_total") for n in nodes)
    t0, c0 = time.time(), cpu_busy_s()
    procs = [subprocess.Popen(["wrk", "-t1", f"-c{max(1, CONNECTIONS // len(nodes))}", f"-d{DURATION}s", "-s",
                               os.path.join(WORK, f"req{i}.lua"),
                               f"http://127.0.0.1:{n.http}/v2/email/outbound-emails"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i, n in enumerate(nodes)]
    outs = [p.communicate(timeout=DURATION + 60)[0] for p in procs]
    el, cpu = time.time() - t0, cpu_busy_s() - c0
    for o in outs:
        if "Non-2xx" in o:
            raise SystemExit("API sends failed:\n" + o)
    sent = sum(n.accepted("sesame_api_messages_accepted_total") for n in nodes) - before
    return sent / el, cpu * 1000 / max(1, sent), int(sent)


def measure(mode, nodes, pg=None, db=None):
    for n in nodes:
        n.start()
    time.sleep(1)
    idle0 = pg.commits(db) if pg else 0
    time.sleep(5)
    idle_rate = ((pg.commits(db) - idle0) / 5.0) if pg else 0
    trips0, t0 = (pg.commits(db) if pg else 0), time.time()
    smtp_rate, smtp_cpu, smtp_n = smtp_run(nodes)
    api_rate, api_cpu, api_n = api_run(nodes)
    trips = (pg.commits(db) - trips0 - idle_rate * (time.time() - t0)) if pg else 0
    per_msg = max(0.0, trips) / (smtp_n + api_n)
    for n in nodes:
        n.stop()
    line = (f"sesame-cluster mode={mode} nodes={len(nodes)} smtp_msgs_per_s={smtp_rate:.0f} "
            f"smtp_cpu_ms_per_msg={smtp_cpu:.3f} api_sendemail_per_s={api_rate:.0f} "
            f"api_cpu_ms_per_msg={api_cpu:.3f}" + (f" pg_round_trips_per_msg={per_msg:.3f}" if pg else ""))
    print(line, flush=True)
    return smtp_cpu, api_cpu


def main():
    for tool in ("smtp-source", "wrk", "redis-server"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} missing: run scripts/install-deps")
    if not os.path.exists(os.path.join(PG_BIN, "initdb")):
        raise SystemExit("postgresql-15 missing: run scripts/install-deps")
    pg = BenchPostgres()
    redis = Redis().start()
    redis_port = redis.port
    try:
        log(f"{MSGS} SMTP messages of {SIZE} B over {SESSIONS} sessions, then {DURATION} s of SendEmail "
            f"over {CONNECTIONS} connections, per mode")
        sqlite = Node("sqlite", "api: {auto_verify: true}\n")
        sqlite.shared = False
        base = measure("sqlite", [sqlite])
        db, dsn = pg.new_database()
        master = os.path.join(WORK, "master.key")
        pgc = f"store: {{backend: postgres, dsn: \"{dsn}\"}}\napi: {{auto_verify: true, master_key_file: {master}}}\n"
        one = Node("pg1", pgc)
        one.shared = True
        measure("postgres", [one], pg, db)
        db, dsn = pg.new_database()
        pgc = (f"store: {{backend: postgres, dsn: \"{dsn}\"}}\n"
               f"api: {{auto_verify: true, master_key_file: {master}}}\n"
               f"redis: {{address: \"127.0.0.1:{redis_port}\"}}\n")
        two = [Node("a", pgc), Node("b", pgc)]
        for n in two:
            n.shared = True
        cl = measure("cluster", two, pg, db)
        if os.environ.get("BREAKDOWN") == "1":  # the same two nodes without Redis
            db, dsn = pg.new_database()
            pgc = (f"store: {{backend: postgres, dsn: \"{dsn}\"}}\n"
                   f"api: {{auto_verify: true, master_key_file: {master}}}\n")
            bare = [Node("a2", pgc), Node("b2", pgc)]
            for n in bare:
                n.shared = True
            measure("two-nodes-no-redis", bare, pg, db)
        print(f"summary cluster/sqlite cpu per message: smtp {cl[0] / base[0]:.2f} api {cl[1] / base[1]:.2f} "
              f"(target <= 1.15)", flush=True)
    finally:
        redis.cleanup()
        pg.cleanup()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
