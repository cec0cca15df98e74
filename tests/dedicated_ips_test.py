"""Dedicated IP addresses, end to end: the SESv2 dedicated IP operations over
the host's own addresses (delivery.dedicated_ips), and mail of a
configuration set whose SendingPoolName names a pool leaving from that
pool's addresses, as the receiving MX (a real SMTP sink on loopback) sees
them."""
import os
import unittest

from dns_helper import Dnsmasq
from harness import Sesame, aws_clients, aws_error_code, requires, wait_until
from sink import FaultSink



@requires(os.path.exists("/usr/sbin/dnsmasq"), "dnsmasq is needed")
class DedicatedIps(unittest.TestCase):
    def setUp(self):
        self.sink = FaultSink(host="127.0.0.5").start()
        self.dns = Dnsmasq(mx=[("dest.test", "mx.dest.test", 10)], hosts=[("mx.dest.test", "127.0.0.5")])
        self.server = Sesame(delivery=(f"delivery:\n  mode: smtp\n  resolver: {self.dns.address}\n"
                                       f"  mx_port: {self.sink.port}\n"
                                       "  dedicated_ips: [127.0.0.2, 127.0.0.3]\n")).start()
        self.v2 = aws_clients(self.server, "sesv2")

    def tearDown(self):
        self.server.cleanup()
        self.dns.stop()
        self.sink.stop()

    def test_pools_move_addresses_and_mail_leaves_from_them(self):
        v2 = self.v2
        ips = v2.get_dedicated_ips()["DedicatedIps"]
        self.assertEqual([(i["Ip"], i["PoolName"], i["WarmupStatus"]) for i in ips],
                         [("127.0.0.2", "ses-default-dedicated-pool", "DONE"),
                          ("127.0.0.3", "ses-default-dedicated-pool", "DONE")])
        self.assertEqual(aws_error_code(v2.get_dedicated_ip, Ip="127.0.0.9"), "NotFoundException")
        self.assertEqual(aws_error_code(v2.put_dedicated_ip_in_pool, Ip="127.0.0.2", DestinationPoolName="nope"),
                         "NotFoundException")
        v2.create_dedicated_ip_pool(PoolName="marketing")
        for ip in ("127.0.0.2", "127.0.0.3"):
            v2.put_dedicated_ip_in_pool(Ip=ip, DestinationPoolName="marketing")
        self.assertEqual([i["Ip"] for i in v2.get_dedicated_ips(PoolName="marketing")["DedicatedIps"]],
                         ["127.0.0.2", "127.0.0.3"])
        page = v2.get_dedicated_ips(PoolName="marketing", PageSize=1)
        self.assertEqual(len(page["DedicatedIps"]), 1)
        rest = v2.get_dedicated_ips(PoolName="marketing", PageSize=1, NextToken=page["NextToken"])
        self.assertEqual(rest["DedicatedIps"][0]["Ip"], "127.0.0.3")
        self.assertNotIn("NextToken", rest)
        v2.put_dedicated_ip_warmup_attributes(Ip="127.0.0.3", WarmupPercentage=40)
        ip = v2.get_dedicated_ip(Ip="127.0.0.3")["DedicatedIp"]
        self.assertEqual((ip["WarmupStatus"], ip["WarmupPercentage"], ip["PoolName"]),
                         ("IN_PROGRESS", 40, "marketing"))
        self.assertEqual(aws_error_code(v2.put_dedicated_ip_warmup_attributes, Ip="127.0.0.3", WarmupPercentage=101),
                         "BadRequestException")
        v2.put_account_dedicated_ip_warmup_attributes(AutoWarmupEnabled=True)
        self.assertTrue(v2.get_account()["DedicatedIpAutoWarmupEnabled"])

        v2.create_configuration_set(ConfigurationSetName="promo",
                                    DeliveryOptions={"SendingPoolName": "marketing"})
        content = {"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}}
        for i in range(3):
            v2.send_email(FromEmailAddress="news@example.com", Destination={"ToAddresses": [f"promo{i}@dest.test"]},
                          Content=content, ConfigurationSetName="promo")
        v2.send_email(FromEmailAddress="app@example.com", Destination={"ToAddresses": ["plain@dest.test"]},
                      Content=content)
        self.assertTrue(wait_until(lambda: len(self.sink.peer_log) >= 4, timeout=30), self.sink.peer_log)
        by_rcpt = {r: peer for peer, rcpts in self.sink.peer_log for r in rcpts}
        for i in range(3):
            self.assertIn(by_rcpt[f"promo{i}@dest.test"], ("127.0.0.2", "127.0.0.3"))
        self.assertEqual(by_rcpt["plain@dest.test"], "127.0.0.1")  # no pool: the default source

        # Moved back to the default pool, the set's mail leaves from the default source again.
        for ip in ("127.0.0.2", "127.0.0.3"):
            v2.put_dedicated_ip_in_pool(Ip=ip, DestinationPoolName="ses-default-dedicated-pool")
        self.assertEqual(v2.get_dedicated_ips(PoolName="marketing")["DedicatedIps"], [])


if __name__ == "__main__":
    unittest.main()
