"""dnsmasq on a loopback port, serving the test zone (a real DNS server)."""
import os
import signal
import socket
import subprocess
import time


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dnsmasq:
    def __init__(self, mx=(), hosts=(), null_mx=(), slow_domains=(), txt=(), port=None,
                 listen="127.0.0.1"):
        """mx: (domain, host, preference); hosts: (name, ip); null_mx: domains;
        txt: (name, value) with values over 255 octets split into strings."""
        self.port = port or free_udp_port()
        self.listen = listen
        self.blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.blackhole.bind(("127.0.0.1", 0))  # never answers: upstream for slow domains
        hole = self.blackhole.getsockname()[1]
        args = ["/usr/sbin/dnsmasq", "--keep-in-foreground", f"--port={self.port}", f"--listen-address={listen}",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll", "--user=nobody", "--pid-file=",
                "--log-facility=/dev/null", "--local=/test/"]
        args += [f"--mx-host={d},{h},{p}" for d, h, p in mx]
        args += [f"--host-record={n},{ip}" for n, ip in hosts]
        args += [f"--dns-rr={d},15,000000" for d in null_mx]
        args += [f"--server=/{d}/127.0.0.1#{hole}" for d in slow_domains]
        for name, value in txt:
            chunks = [value[i:i + 255] for i in range(0, len(value), 255)]
            args.append(f"--txt-record={name}," + ",".join(chunks))  # argv: no shell quoting
        fixed = port is not None
        for attempt in range(10):
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            if self.proc.poll() is None:
                return
            # The port was taken (dnsmasq also listens on TCP): another one, or wait for ours.
            if not fixed:
                old = f"--port={self.port}"
                self.port = free_udp_port()
                args[args.index(old)] = f"--port={self.port}"
        raise RuntimeError("dnsmasq failed to start")

    @property
    def address(self):
        return f"{self.listen}:{self.port}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(5)
        self.blackhole.close()
