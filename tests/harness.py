"""Starts the real build/sesame on loopback with a temporary data directory.

Every end-to-end test talks to the binary over sockets with real clients
(smtplib, swaks, raw sockets); nothing here is mocked.
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import warnings

# Tests close sockets by dropping them; the server side is what is under test.
warnings.simplefilter("ignore", ResourceWarning)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# SESAME_BINARY lets `make asan` run the same tests against the sanitizer build.
BINARY = os.path.abspath(os.environ.get("SESAME_BINARY") or os.path.join(ROOT, "build", "sesame"))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


def requires(condition, why):
    """unittest.skipUnless, except under `make test` (SESAME_REQUIRE_ALL=1),
    which installs every peer: there a missing one fails the tests instead of
    silently skipping them."""
    if condition or not os.environ.get("SESAME_REQUIRE_ALL"):
        return unittest.skipUnless(condition, why)

    def fail(self):
        raise AssertionError(f"required under make test but missing: {why}")

    def deco(obj):
        obj.setUp = fail
        if "setUpClass" in obj.__dict__:
            obj.setUpClass = classmethod(lambda cls: None)
        return obj
    return deco


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the server's certificate is self-signed
    return ctx


_postgres = None
_databases = 0


def shared_store(yaml):
    """SESAME_TEST_STORE=postgres (make test's postgres pass): each server gets
    a fresh database of one throwaway PostgreSQL (tests/servers.py), started
    on first use and stopped at exit; suites that name a store keep theirs."""
    global _postgres, _databases
    if os.environ.get("SESAME_TEST_STORE") != "postgres" or re.search(r"^store:", yaml, re.M):
        return ""
    import atexit
    from servers import Postgres
    if _postgres is None:
        _postgres = Postgres().start()
        atexit.register(_postgres.cleanup)
    _databases += 1
    name = f"t{os.getpid()}_{_databases}"
    _postgres.run("createdb", "-h", "127.0.0.1", "-p", str(_postgres.port), "-U", "sesame", name)
    return (f"store: {{backend: postgres, dsn: \"host=127.0.0.1 port={_postgres.port} user=sesame "
            f"dbname={name}\"}}\n")


class Sesame:
    """One sesame process with its own ports and data directory."""

    def __init__(self, extra_yaml="", data_dir=None, users=(("app", "app-secret"),), env=None,
                 preexec_fn=None, delivery="delivery: {mode: hold}\n", relay=False, http_tls=False):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sesame-e2e-")
        self.ports = {}
        for name in ("smtp", "smtps", "mx", "http"):
            port = free_port()
            while port in self.ports.values():
                port = free_port()
            self.ports[name] = port
        users_yaml = "".join(f"    - {{username: {u}, password: {p}}}\n" for u, p in users)
        self.config_path = os.path.join(self.data_dir, "sesame.yaml")
        with open(self.config_path, "w") as f:
            f.write(f"""profile: production
data_dir: {self.data_dir}
hostname: mx.sesame.test
threads: 2
listeners:
  smtp: {{address: 127.0.0.1, port: {self.ports['smtp']}}}
  smtps: {{address: 127.0.0.1, port: {self.ports['smtps']}}}
  mx: {{address: 127.0.0.1, port: {self.ports['mx']}}}
  http: {{address: 127.0.0.1, port: {self.ports['http']}{", tls: true" if http_tls else ""}}}
smtp:
{"  relay_networks: [127.0.0.0/8]" + chr(10) if relay else ""}  users:
{users_yaml}mx:
  domains: [bounces.sesame.test, "*.fbl.sesame.test"]
{delivery}{extra_yaml}{self.default_api(delivery + extra_yaml)}{shared_store(extra_yaml)}""")
        self.env = dict(os.environ, **(env or {}))
        self.preexec_fn = preexec_fn
        self.command_prefix = []  # e.g. nsenter into a mount namespace
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    @staticmethod
    def default_api(yaml):
        """Suites that do not test identities send from any address: SMTP and
        the API both refuse unverified senders in production (one admission
        path), so the fixture auto-verifies unless a test configures api:."""
        if re.search(r"^api:", yaml, re.M):
            return ""
        return "api: {auto_verify: true}\n"

    def start(self, timeout=15):
        self.log = open(self.log_path, "ab")
        self.log_start = self.log.tell()  # this start's part of the appended log
        self.proc = subprocess.Popen(self.command_prefix + [BINARY, "serve", "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                     preexec_fn=self.preexec_fn)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sesame exited: " + self.read_log())
            try:
                # Every listener is bound before any serves, so HTTP answering means all are up.
                with socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sesame did not start: " + self.read_log())

    def read_log(self, this_start_only=False):
        with open(self.log_path, "rb") as f:
            if this_start_only:
                f.seek(getattr(self, "log_start", 0))
            return f.read().decode(errors="replace")

    def recovery_report(self):
        """The spool's recovery line of the current start, as numbers:
        {"messages", "segments", "quarantined", "torn"}."""
        import re
        m = re.search(r"recovered (\d+) queued messages from (\d+) segments \((\d+) corrupt regions "
                      r"quarantined, (\d+) incomplete tails discarded\)", self.read_log(this_start_only=True))
        if not m:
            raise AssertionError("no recovery line in this start's log")
        return dict(zip(("messages", "segments", "quarantined", "torn"), map(int, m.groups())))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
            self.proc = None

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def queue(self):
        out = subprocess.run([BINARY, "queue", "list", "--json", "--config", self.config_path],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout), out.stderr

    def queued_ids(self):
        return [m["MessageId"] for m in self.queue()[0]]

    def admin(self, path, method="GET", token=True):
        """Calls /admin/* with the local admin token (<data_dir>/admin.token);
        returns the decoded JSON answer."""
        import urllib.request
        req = urllib.request.Request(f"http://127.0.0.1:{self.ports['http']}{path}", method=method)
        if token:
            with open(os.path.join(self.data_dir, "admin.token")) as f:
                req.add_header("Authorization", "Bearer " + f.read().strip())
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def body_of(self, message_id):
        """Reads a message body straight from the spool files (test helper)."""
        return read_spool_bodies(os.path.join(self.data_dir, "spool")).get(message_id)


def read_spool_bodies(spool_dir):
    """Parses every spool segment independently of the server (docs/architecture.md):
    returns {message id: body} for message records."""
    import struct
    bodies = {}
    for name in sorted(os.listdir(spool_dir)):
        if not name.endswith(".seg"):
            continue
        with open(os.path.join(spool_dir, name), "rb") as f:
            data = f.read()
        off = 16
        while off + 32 <= len(data):
            magic, rtype, meta_len, _, body_len, _, _ = struct.unpack_from("<IB3xIIQII", data, off)
            if magic != 0x53505231 or off + 32 + meta_len + body_len > len(data):
                break
            meta = data[off + 32: off + 32 + meta_len]
            start = off + 32 + meta_len
            if rtype == 1:
                id_len = meta[0]  # varint; ids are < 128 bytes
                bodies[meta[1:1 + id_len].decode()] = data[start:start + body_len]
            off = start + body_len
    return bodies


def inject(port, messages, sessions=10):
    """Sends [(sender, [rcpts], subject[, extra header lines...])] over `sessions` parallel connections,
    pipelining each transaction; returns {index: server id} for those acked."""
    import threading
    ids = {}
    lock = threading.Lock()
    chunks = [list(range(i, len(messages), sessions)) for i in range(sessions)]

    def worker(indices):
        s = None
        sent = 0
        for i in indices:
            if s is None or sent >= 50:
                if s is not None:
                    s.cmd("QUIT")
                    s.close()
                s = RawSmtp(port)
                s.cmd("EHLO injector.test")
                sent = 0
            sender, rcpts, subject, *extra = messages[i]
            extra_headers = "".join(h + "\r\n" for h in extra)
            batch = f"MAIL FROM:<{sender}>\r\n" + "".join(f"RCPT TO:<{r}>\r\n" for r in rcpts) + "DATA\r\n"
            s.send(batch)
            replies = [s.reply() for _ in range(len(rcpts) + 2)]
            if replies[-1][0] != 354:
                raise AssertionError(f"DATA refused: {replies}")
            s.send(f"Subject: {subject}\r\nFrom: <{sender}>\r\n{extra_headers}\r\nbody of {subject}\r\n.\r\n")
            code, text = s.reply()
            if code == 250:
                with lock:
                    ids[i] = text.split()[-1]
            sent += 1
        if s is not None:
            s.cmd("QUIT")
            s.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks if c]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ids


def wait_until(predicate, timeout=60, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def read_outcomes(data_dir):
    path = os.path.join(data_dir, "outcomes.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def metric(port, name):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return None


class RawSmtp:
    """A byte-exact SMTP client for what smtplib cannot send."""

    def __init__(self, port, tls=False, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls_client_context().wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """Reads one (possibly multi-line) reply; returns (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed; partial: %r" % self.buf)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode(errors="replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(lines[-1][:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self):
        code, _ = self.cmd("STARTTLS")
        assert code == 220, code
        self.sock = tls_client_context().wrap_socket(self.sock)
        self.buf = b""

    def closed(self, timeout=5):
        """True when the server closed the connection (EOF or reset) within
        `timeout`; False when it merely stayed silent or sent more bytes."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except (ConnectionError, ssl.SSLError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def aws_error_code(fn, **kw):
    """The AWS error code a client call fails with; None when it succeeds."""
    try:
        fn(**kw)
    except Exception as e:  # botocore ClientError
        return e.response["Error"]["Code"]
    return None


def aws_clients(server, *services):
    """Creates an access key with `sesame keys create --json` and returns boto3
    clients for `services` ("sesv2", "ses", "sns") against `server`'s HTTP port."""
    import json
    import subprocess
    import boto3
    key = json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                    capture_output=True, text=True, check=True).stdout)
    kw = dict(endpoint_url=f"http://127.0.0.1:{server.ports['http']}", region_name="us-east-1",
              aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    clients = tuple(boto3.client(name, **kw) for name in services)
    return clients[0] if len(clients) == 1 else clients


def can_mount():
    """True when this process may create mount namespaces (root, unshare)."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("nsenter"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


def private_tmpfs(server, size):
    """Moves `server`'s data directory onto a tmpfs of `size` (e.g. "48m")
    mounted in a private mount namespace; the server runs inside it. Returns
    (holder process, the nsenter prefix for commands, the mount point); the
    caller kills the holder when done."""
    fs = os.path.join(server.data_dir, "fs")
    os.mkdir(fs)
    holder = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                               f"mount -t tmpfs -o size={size} tmpfs {fs} && echo mounted && exec sleep 900"],
                              stdout=subprocess.PIPE, text=True)
    if holder.stdout.readline().strip() != "mounted":
        raise RuntimeError("tmpfs mount failed")
    ns = ["nsenter", "-t", str(holder.pid), "-m", "--"]
    with open(server.config_path) as f:
        text = f.read()
    with open(server.config_path, "w") as f:
        f.write(text.replace(f"data_dir: {server.data_dir}\n", f"data_dir: {fs}/data\n"))
    server.command_prefix = ns
    return holder, ns, fs


def smtp_password(secret, region="us-east-1"):
    """The SES SMTP password of an access key's secret (SigV4-derived)."""
    import base64
    import hashlib
    import hmac

    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    k = h(("AWS4" + secret).encode(), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        k = h(k, part)
    return base64.b64encode(b"\x04" + k).decode()
