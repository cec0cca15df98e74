"""A fault-injecting SMTP sink for delivery tests (a real server on a real socket).

It answers 4xx or 5xx by recipient pattern or at random, drops connections
before or after the final dot, stalls, and records what it accepted: every
(message, recipient) pair, connections, peak concurrency and timestamps.
Runs its asyncio loop on a background thread; the test reads its counters.
"""
import asyncio
import random
import re
import threading
import time


class FaultSink:
    def __init__(self, host="127.0.0.1", port=0, rules=(), p_temp=0.0, p_perm=0.0, p_drop_before_dot=0.0,
                 p_drop_after_dot=0.0, p_stall=0.0, stall_seconds=3.0, temp_first_attempts=None,
                 advertise=("PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 50000000"), greeting_code=220,
                 seed=1):
        self.host = host
        self.port = port
        self.rules = [(re.compile(p, re.I), reply) for p, reply in rules]  # rcpt regex -> reply line
        self.p_temp, self.p_perm = p_temp, p_perm
        self.p_drop_before_dot, self.p_drop_after_dot = p_drop_before_dot, p_drop_after_dot
        self.p_stall, self.stall_seconds = p_stall, stall_seconds
        # regex -> number of RCPT attempts answered 451 before accepting
        self.temp_first = [(re.compile(p, re.I), n) for p, n in (temp_first_attempts or {}).items()]
        self.advertise = advertise
        self.greeting_code = greeting_code
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.delivered = []  # (sesame id, rcpt, time)
        self.mail_from = []
        self.transactions_log = []  # (MAIL FROM, [RCPT], sesame id) per accepted transaction
        self.peer_log = []  # (client address, [RCPT]) per accepted transaction
        self.bodies = {}
        self.rcpt_attempts = {}
        self.connections = 0
        self.active_log = []  # (time, open connections) at each new connection
        self.active = 0
        self.active_by_peer = {}  # client address -> open connections
        self.peak = 0
        self.dropped_after_dot = 0
        self.transactions = 0
        self.loop = None
        self.server = None
        self.thread = None

    # --- lifecycle ---------------------------------------------------------
    def start(self):
        ready = threading.Event()

        def run():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                asyncio.start_server(self.handle, self.host, self.port, reuse_address=True))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)
        return self

    def stop(self):
        if not self.loop:
            return

        async def shutdown():
            self.server.close()
            await self.server.wait_closed()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        loop = self.loop
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self.thread.join(5)
        loop.close()
        self.loop = None

    # --- protocol ---------------------------------------------------------
    async def handle(self, reader, writer):
        peer = writer.get_extra_info("peername")[0]
        with self.lock:
            self.connections += 1
            self.active += 1
            self.active_by_peer[peer] = self.active_by_peer.get(peer, 0) + 1
            self.peak = max(self.peak, self.active)
            self.active_log.append((time.time(), self.active))
        try:
            await self.session(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            with self.lock:
                self.active -= 1
                self.active_by_peer[peer] -= 1
            writer.close()

    async def session(self, reader, writer):
        def send(line):
            writer.write((line + "\r\n").encode())

        send(f"{self.greeting_code} sink.test ESMTP fault sink")
        await writer.drain()
        if self.greeting_code != 220:
            return
        mail, rcpts = None, []
        while True:
            line = await reader.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                if verb == "EHLO":
                    lines = ["sink.test"] + list(self.advertise)
                    for i, l in enumerate(lines):
                        send(("250 " if i == len(lines) - 1 else "250-") + l)
                else:
                    send("250 sink.test")
            elif verb == "MAIL":
                mail, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                send("250 2.1.0 ok")
            elif verb == "RCPT":
                addr = cmd[8:].split(">")[0].lstrip("<")
                send(self.rcpt_reply(addr, rcpts))
            elif verb == "DATA":
                if not rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go ahead")
                await writer.drain()
                data = b""
                while True:
                    chunk = await reader.readline()
                    if not chunk:
                        return
                    if chunk == b".\r\n":
                        break
                    data += chunk
                r = self.rng.random()
                if r < self.p_drop_before_dot:
                    return  # as if the connection died before the final dot arrived
                if r < self.p_drop_before_dot + self.p_drop_after_dot:
                    with self.lock:
                        self.dropped_after_dot += 1
                        self.record(data, mail, rcpts)  # we got it; the sender never hears so
                    return
                if self.rng.random() < self.p_stall:
                    await asyncio.sleep(self.stall_seconds)
                with self.lock:
                    self.transactions += 1
                    self.record(data, mail, rcpts)
                    self.peer_log.append((writer.get_extra_info("peername")[0], list(rcpts)))
                send("250 2.0.0 queued as sink")
            elif verb == "RSET":
                mail, rcpts = None, []
                send("250 2.0.0 ok")
            elif verb == "NOOP":
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                await writer.drain()
                return
            else:
                send("502 5.5.2 not implemented")
            await writer.drain()

    def rcpt_reply(self, addr, rcpts):
        with self.lock:
            n = self.rcpt_attempts.get(addr, 0) + 1
            self.rcpt_attempts[addr] = n
        for pattern, reply in self.rules:
            if pattern.search(addr):
                return reply
        for pattern, first in self.temp_first:
            if pattern.search(addr) and n <= first:
                return "451 4.3.0 try again later (attempt %d)" % n
        r = self.rng.random()
        if r < self.p_temp:
            return "451 4.7.1 random temporary failure"
        if r < self.p_temp + self.p_perm:
            return "550 5.1.1 random permanent failure"
        rcpts.append(addr)
        return "250 2.1.5 ok"

    def record(self, data, mail, rcpts):
        m = re.search(rb"\tid (\S+?);", data)
        sid = m.group(1).decode() if m else None
        now = time.time()
        for r in rcpts:
            self.delivered.append((sid, r, now))
        self.mail_from.append(mail)
        self.transactions_log.append((mail, list(rcpts), sid))
        # Messages without Sesame's Received id (API mail) are kept too.
        self.bodies[sid or f"#{len(self.transactions_log)}"] = data

    # --- queries ------------------------------------------------------------
    def pairs(self):
        with self.lock:
            return [(sid, r) for sid, r, _ in self.delivered]

    def count(self):
        with self.lock:
            return len(self.delivered)

    def times(self):
        with self.lock:
            return [t for _, _, t in self.delivered]
