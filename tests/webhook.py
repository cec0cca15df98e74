"""An SNS-style webhook receiver for tests: a real HTTP server on loopback that
confirms subscriptions (by visiting SubscribeURL), records notifications and
verifies each signature independently of Sesame (Python's `cryptography`
package: SignatureVersion 1 = RSA/SHA1, 2 = RSA/SHA256, over the canonical
string AWS documents)."""
import base64
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
_certs = {}


def verify_sns_signature(msg):
    """True when msg's Signature verifies with the certificate at SigningCertURL."""
    keys = NOTIFICATION_KEYS if msg["Type"] == "Notification" else CONFIRMATION_KEYS
    to_sign = "".join(f"{k}\n{msg[k]}\n" for k in keys if k in msg).encode()
    url = msg["SigningCertURL"]
    if not url.endswith(".pem"):
        return False
    if url not in _certs:
        with urllib.request.urlopen(url, timeout=5) as r:
            _certs[url] = x509.load_pem_x509_certificate(r.read())
    digest = hashes.SHA1() if msg["SignatureVersion"] == "1" else hashes.SHA256()
    key = _certs[url].public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(base64.b64decode(msg["Signature"]), to_sign, ec.ECDSA(digest))
        else:
            key.verify(base64.b64decode(msg["Signature"]), to_sign, padding.PKCS1v15(), digest)
        return True
    except Exception:
        return False


class Receiver:
    def __init__(self, port=0, status=200, confirm=True, close_every=0):
        """close_every: answer with Connection: close after that many requests
        on a connection (a server that limits keep-alive)."""
        self.port = port
        self.close_every = close_every
        self.accepted = 0
        self.status = status
        self.confirm = confirm
        self.lock = threading.Lock()
        self.notifications = []  # (headers dict, parsed body)
        self.confirmations = []
        self.server = None
        self.conns = set()

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                self.served = 0
                with receiver.lock:
                    receiver.conns.add(self.connection)
                    receiver.accepted += 1

            def finish(self):
                with receiver.lock:
                    receiver.conns.discard(self.connection)
                super().finish()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                msg = json.loads(body)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.status != 200:
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.served += 1
                if receiver.close_every and self.served % receiver.close_every == 0:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                with receiver.lock:
                    if msg.get("Type") == "SubscriptionConfirmation":
                        receiver.confirmations.append((headers, msg))
                    else:
                        receiver.notifications.append((headers, msg))
                if msg.get("Type") == "SubscriptionConfirmation" and receiver.confirm:
                    threading.Thread(target=lambda: urllib.request.urlopen(msg["SubscribeURL"], timeout=5).read(),
                                     daemon=True).start()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        """Down for real: no new connections, and the kept-alive ones closed."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        import socket
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def events(self):
        with self.lock:
            return [json.loads(m["Message"]) for _, m in self.notifications]

    def messages(self):
        with self.lock:
            return [m for _, m in self.notifications]
