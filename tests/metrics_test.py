"""/metrics in the Prometheus text format (0.0.4), checked by a strict parser
(Debian has no promtool): every sample belongs to a family declared once
with HELP and TYPE, names and labels are well formed, counters end in
_total, histograms have cumulative buckets ending at +Inf with _sum and
_count, label values stay bounded (no message ids or addresses)."""
import json
import os
import re
import subprocess
import unittest
import urllib.request

from dns_helper import Dnsmasq
from harness import BINARY, Sesame, inject, wait_until
from sink import FaultSink

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")


def parse(text):
    """Returns {family: {"type", "help", "samples": [(name, labels, value)]}}; raises on any violation."""
    families, order = {}, []
    current = None
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, arg = rest.partition(" ")
            assert NAME.match(name), f"line {n}: bad metric name {name!r}"
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            key = "help" if kind == "HELP" else "type"
            assert fam[key] is None, f"line {n}: second {kind} for {name}"
            if kind == "TYPE":
                assert arg in ("counter", "gauge", "histogram", "summary", "untyped"), f"line {n}: type {arg!r}"
                assert not fam["samples"], f"line {n}: TYPE after samples of {name}"
            fam[key] = arg
            if name not in order:
                order.append(name)
            current = name
            continue
        assert not line.startswith("#"), f"line {n}: unknown comment {line!r}"
        m = SAMPLE.match(line)
        assert m, f"line {n}: not a sample: {line!r}"
        name, labels_text, value = m.group("name"), m.group("labels"), m.group("value")
        try:
            float(value)  # NaN, +Inf and numbers parse
        except ValueError:
            raise AssertionError(f"line {n}: value {value!r} is not a number")
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = LABEL.match(labels_text, pos)
                assert lm, f"line {n}: bad labels {labels_text!r}"
                assert lm.group(1) not in labels, f"line {n}: repeated label {lm.group(1)}"
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
                if pos < len(labels_text):
                    assert labels_text[pos] == ",", f"line {n}: bad labels {labels_text!r}"
                    pos += 1
        base = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in families and \
                    families[name[: -len(suffix)]]["type"] == "histogram":
                base = name[: -len(suffix)]
        assert base in families, f"line {n}: sample {name} before its TYPE"
        assert base == current, f"line {n}: {name} is not in its family's block ({current})"
        families[base]["samples"].append((name, labels, float(value)))
    for name, fam in families.items():
        assert fam["type"] and fam["help"], f"{name}: HELP and TYPE are both required"
        if fam["type"] == "counter":
            assert name.endswith("_total"), f"counter {name} should end in _total"
        if fam["type"] == "histogram":
            series = {}
            for sname, labels, value in fam["samples"]:
                key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                series.setdefault(key, {"buckets": [], "sum": None, "count": None})
                if sname.endswith("_bucket"):
                    series[key]["buckets"].append((float(labels["le"]), value))
                elif sname.endswith("_sum"):
                    series[key]["sum"] = value
                else:
                    series[key]["count"] = value
            for key, s in series.items():
                les = [le for le, _ in s["buckets"]]
                assert les == sorted(les) and les[-1] == float("inf"), f"{name}: buckets must rise to +Inf"
                counts = [c for _, c in s["buckets"]]
                assert counts == sorted(counts), f"{name}: buckets must be cumulative"
                assert s["count"] == counts[-1] and s["sum"] is not None, f"{name}: _count must equal the +Inf bucket"
    return families


class MetricsFormat(unittest.TestCase):
    def test_parser_rejects_what_it_should(self):
        good = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"
        parse(good)
        for bad in ("a_total 1\n",                                         # no TYPE
                    "# HELP a A.\n# TYPE a counter\na 1\n",                 # counter without _total
                    good + "# TYPE a_total counter\n",                      # second TYPE
                    "# HELP g G.\n# TYPE g gauge\ng{x=\"1\",x=\"2\"} 1\n",  # repeated label
                    "# HELP g G.\n# TYPE g gauge\ng{x=1} 1\n",              # unquoted label
                    "# HELP g G.\n# TYPE g gauge\ng one\n",                 # not a number
                    "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                    "h_sum 1\nh_count 1\n"):                                # not cumulative
            with self.assertRaises(AssertionError, msg=bad):
                parse(bad)

    @unittest.skipUnless(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq missing")
    def test_live_metrics_after_real_traffic(self):
        sink = FaultSink(host="127.0.0.2", rules=[(r"^hard", "550 5.1.1 no such user"),
                                                  (r"^soft", "451 4.3.0 later")]).start()
        dns = Dnsmasq(mx=[("dest.test", "mx.dest.test", 10)], hosts=[("mx.dest.test", "127.0.0.2")])
        server = Sesame(delivery=f"delivery:\n  mode: smtp\n  resolver: {dns.address}\n  mx_port: {sink.port}\n",
                        relay=True).start()
        try:
            inject(server.ports["smtp"], [("app@example.com", ["ok@dest.test", "hard@dest.test", "soft@dest.test",
                                                               f"r{i}@dest.test"], f"m{i}") for i in range(20)])
            self.assertTrue(wait_until(lambda: sink.count() >= 40, 15))

            def scrape():
                with urllib.request.urlopen(f"http://127.0.0.1:{server.ports['http']}/metrics", timeout=5) as r:
                    self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
                    return parse(r.read().decode())

            def settled(f):
                # hard@ either bounced or, once on the suppression list, was suppressed.
                total = sum(v for _, l, v in f["sesame_bounces_total"]["samples"] if l.get("type") == "Permanent")
                total += sum(v for _, _, v in f["sesame_delivery_suppressed_total"]["samples"])
                latency = [v for n, _, v in f["sesame_delivery_latency_seconds"]["samples"] if n.endswith("_count")]
                return total == 20 and latency == [40]
            self.assertTrue(wait_until(lambda: settled(scrape()), 15))
            families = scrape()
            for required in ("sesame_smtp_messages_accepted_total", "sesame_api_messages_accepted_total",
                             "sesame_delivery_delivered_total", "sesame_delivery_deferred_total",
                             "sesame_delivery_failed_total", "sesame_bounces_total", "sesame_complaints_total",
                             "sesame_suppressions_added_total", "sesame_smtp_throttled_total",
                             "sesame_api_throttled_total", "sesame_queue_depth", "sesame_dead_letter_recipients",
                             "sesame_smtp_connections", "sesame_smtp_commit_seconds",
                             "sesame_delivery_latency_seconds", "sesame_smtp_tls_sessions_total",
                             "sesame_delivery_tls_connections_total", "sesame_smtp_recipients_total"):
                self.assertIn(required, families)

            def value(family, **labels):
                return sum(v for _, l, v in families[family]["samples"]
                           if all(l.get(k) == x for k, x in labels.items()))
            self.assertEqual(value("sesame_smtp_recipients_total", result="accepted"), 80)
            self.assertGreaterEqual(value("sesame_bounces_total", type="Permanent"), 1)
            self.assertEqual(value("sesame_suppressions_added_total"), 1)  # hard@ once
            # Bounded labels: no message ids, no addresses.
            for fam in families.values():
                for _, labels, _ in fam["samples"]:
                    for v in labels.values():
                        self.assertNotIn("@", v, fam)
                        self.assertIsNone(re.search(r"[0-9a-f]{16}-", v), fam)
        finally:
            server.cleanup()
            sink.stop()
            dns.stop()


if __name__ == "__main__":
    unittest.main()
