"""Resource exhaustion (issue 12): idle and trickling clients cannot take the
server's descriptors or hold connections past their deadlines, and the
health endpoints and the other listeners keep working meanwhile."""
import os
import select
import socket
import ssl
import time
import unittest

from harness import RawSmtp, Sesame, tls_client_context


def http_get(port, path, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


def closed_within(sock, seconds):
    """Seconds until the server closed `sock` (EOF/reset), or None."""
    t0 = time.time()
    sock.settimeout(0.2)
    while time.time() - t0 < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.time() - t0
        except TimeoutError:
            continue
        except OSError:
            return time.time() - t0
    return None


class Limits(unittest.TestCase):
    def test_25000_idle_http_connections_leave_health_and_smtps_working(self):
        # Two client processes hold 12,500 idle connections each (one process
        # may not hold 25,000 descriptors here), from five loopback addresses:
        # past about 14,000 connections to one address, each connect() spends
        # milliseconds searching for a free local port. A third keeps opening
        # silent connections during the checks, so the reserve is always full
        # of idle ones a health check must displace. The header timeout
        # outlasts the test: the connection limits stay taken throughout.
        server = Sesame(extra_yaml="limits: {http_header_timeout_seconds: 120}\n").start()
        children = []

        def spawn(count, pace):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                held = []
                for i in range(count):
                    s = socket.socket()
                    s.setsockopt(socket.IPPROTO_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
                    s.bind((f"127.0.0.{1 + i % 5}", 0))
                    s.setblocking(False)
                    try:
                        s.connect(("127.0.0.1", port))
                    except BlockingIOError:
                        pass
                    held.append(s)
                    if pace:
                        time.sleep(pace)
                    if i == 0 and pace:
                        os.write(w, b"1")
                if not pace:
                    # Held means connected: wait out the SYN retransmits of
                    # the connects the full accept queue dropped.
                    poller = select.poll()
                    for s in held:
                        poller.register(s, select.POLLOUT)
                    pending, deadline = len(held), time.time() + 20
                    while pending and time.time() < deadline:
                        for fd, _ in poller.poll(500):
                            poller.unregister(fd)
                            pending -= 1
                    os.write(w, b"1")
                time.sleep(120)
                os._exit(0)
            os.close(w)
            children.append((pid, r))
            self.assertEqual(os.read(r, 1), b"1")

        try:
            port = server.ports["http"]
            spawn(12500, 0)
            spawn(12500, 0)
            spawn(6000, 0.002)  # ~500 silent connections a second
            for _ in range(3):
                for path in ("/health", "/ready"):
                    t0 = time.time()
                    self.assertEqual(http_get(port, path), 200, path)
                    self.assertLess(time.time() - t0, 1.0, path)
                time.sleep(0.3)
            # Other listeners still handshake while the idle ones are held.
            t0 = time.time()
            smtps = RawSmtp(server.ports["smtps"], tls=True)
            self.assertEqual(smtps.greeting[0], 220)
            smtps.close()
            self.assertLess(time.time() - t0, 1.0)
            # Anything but the health endpoints is refused past the limits.
            self.assertEqual(http_get(port, "/v2/email/account"), 503)
            log = server.read_log()
            self.assertLess(log.count("Too many open files"), 5, log[-2000:])
        finally:
            for pid, r in children:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                os.close(r)
            server.cleanup()

    def test_a_trickled_smtp_command_is_cut_at_the_command_timeout(self):
        server = Sesame(extra_yaml="limits: {command_timeout_seconds: 3}\n").start()
        try:
            s = socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=5)
            s.recv(1024)  # greeting
            t0 = time.time()
            ended = None
            for _ in range(12):  # one byte a second, never a newline
                try:
                    s.sendall(b"N")
                except OSError:
                    ended = time.time() - t0
                    break
                gone = closed_within(s, 1)
                if gone is not None:
                    ended = time.time() - t0
                    break
            self.assertIsNotNone(ended, "the connection outlived the command timeout")
            self.assertLess(ended, 3 + 5 + 1.5)  # the timeout, plus the 421's own grace
        finally:
            server.cleanup()

    def test_trickled_http_header_and_slow_body_are_cut(self):
        server = Sesame(extra_yaml="limits: {http_header_timeout_seconds: 3, "
                                   "http_min_body_bytes_per_second: 100000}\n").start()
        try:
            port = server.ports["http"]
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /health HTTP/1.1\r\n")
            t0 = time.time()
            ended = None
            for i in range(12):
                try:
                    s.sendall(f"X-Trickle-{i}: a\r\n".encode())
                except OSError:
                    ended = time.time() - t0
                    break
                if closed_within(s, 1) is not None:
                    ended = time.time() - t0
                    break
            self.assertIsNotNone(ended, "a trickled header held the connection")
            self.assertLess(ended, 5)
            # A body far slower than the minimum rate: 408 and closed.
            b = socket.create_connection(("127.0.0.1", port), timeout=10)
            b.sendall(b"POST /v2/email/outbound-emails HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            t0 = time.time()
            reply = b""
            for _ in range(15):
                try:
                    b.sendall(b"x" * 10)
                except OSError:
                    break
                b.settimeout(1)
                try:
                    chunk = b.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                reply += chunk
                if b"\r\n\r\n" in reply:
                    break
            # Cut at the body deadline (3 s grace + 1 s for the declared
            # length at the minimum rate): closed, not held open.
            self.assertEqual(reply, b"")
            self.assertLess(time.time() - t0, 3 + 1 + 2)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
