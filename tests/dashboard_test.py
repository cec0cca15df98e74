"""The web dashboard in headless Chromium (Debian's `chromium`, driven by
playwright-core from npm through tests/node/dashboard.mjs): login (a wrong
password is refused; an access key and the configured admin credentials get
in), the charts drawn from real sends, bounces and deferrals, reputation and
alarms, a dead-letter redrive that gets the message delivered, the suppression
list edited (add, search, remove), identities with live DNS record status,
message search, captured mail in the local profile, and logout. Screenshots
land in build/test-artifacts/dashboard/."""
import json
import os
import shutil
import smtplib
import subprocess
import unittest
import time
import urllib.error
import urllib.parse
import urllib.request

from dns_helper import Dnsmasq
from harness import BINARY, Sesame, inject, requires, smtp_password, tls_client_context, wait_until
from sink import FaultSink
from webhook import Receiver

try:
    import boto3
    import botocore
except ImportError:  # pragma: no cover
    boto3 = None

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
ACCOUNT = "000000000000"  # the local profile's account
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = os.path.join(HERE, "..", "build", "test-artifacts", "dashboard")
READY = (shutil.which("node") and os.path.exists(CHROMIUM) and boto3 is not None
         and os.path.isdir(os.path.join(NODE_DIR, "node_modules", "playwright-core"))
         and os.path.exists("/usr/sbin/dnsmasq"))


def drive(plan):
    run = subprocess.run(["node", os.path.join(NODE_DIR, "dashboard.mjs"), json.dumps(plan)],
                         capture_output=True, text=True, timeout=240, cwd=NODE_DIR,
                         env=dict(os.environ, CHROMIUM=CHROMIUM))
    if run.returncode != 0 or not run.stdout.strip():
        raise AssertionError(f"dashboard.mjs failed ({run.returncode}): {run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def create_key(server):
    return json.loads(subprocess.run([BINARY, "keys", "create", "--json", "--config", server.config_path],
                                     capture_output=True, text=True, check=True).stdout)


@requires(READY, "node, chromium, playwright-core, boto3 or dnsmasq missing")
class Dashboard(unittest.TestCase):
    def admin(self, server, path, method="GET"):
        return server.admin(path, method)

    def test_operator_session_in_chromium(self):
        # 5xx for hard*, 4xx for later* (dead-lettered when it expires).
        sink = FaultSink(host="127.0.0.2", rules=[(r"^hard", "550 5.1.1 <hard@dest.test>: User unknown"),
                                                  (r"^later", "451 4.2.0 mailbox busy")]).start()
        dns = Dnsmasq(mx=[("dest.test", "mx.dest.test", 10)], hosts=[("mx.dest.test", "127.0.0.2")],
                      txt=[("dash.test", "v=spf1 -all")])
        hook = Receiver().start()  # a webhook subscribed to the configuration set's events
        server = Sesame(delivery=(
            f"delivery:\n  mode: smtp\n  resolver: {dns.address}\n  mx_port: {sink.port}\n"
            "  retry: {first_seconds: 1, factor: 1, max_seconds: 1}\n"
            "  max_delivery_seconds: 2\n  on_expiry: dead_letter\n"
            "api: {auto_verify: true}\n"
            "dashboard: {admin_user: ops, admin_password: ops-password-1}\n"
            "alarms:\n  - name: bounce-rate\n    metric: bounce_rate\n    statistic: Average\n"
            "    period_seconds: 300\n    threshold: 0.05\n    comparison: GreaterThanThreshold\n"
            "    actions: []\n"
            "configuration_sets:\n  - name: dash\n    event_destinations:\n"
            "      - {name: hooks, topic: dash-events, matching_event_types: [DELIVERY]}\n"
            "events:\n  topics:\n    - name: dash-events\n      subscriptions:\n"
            f"        - {{protocol: http, endpoint: \"{hook.url}\", confirm: false}}\n"), relay=True).start()
        try:
            key = create_key(server)
            v2 = boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{server.ports['http']}",
                              region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"])
            v2.create_email_identity(EmailIdentity="dash.test")
            for addr in ("old1@suppressed.test", "old2@suppressed.test", "keep@other.test"):
                v2.put_suppressed_destination(EmailAddress=addr, Reason="BOUNCE")
            sent = [v2.send_email(FromEmailAddress="app@dash.test",
                                  Destination={"ToAddresses": [f"ok{i}@dest.test"]},
                                  Content={"Simple": {"Subject": {"Data": f"hello {i}"},
                                                      "Body": {"Text": {"Data": "b"}}}},
                                  ConfigurationSetName="dash")["MessageId"]
                    for i in range(12)]
            hard = inject(server.ports["smtp"], [("app@dash.test", [f"hard{i}@dest.test"], f"h{i}")
                                                 for i in range(3)])
            later = inject(server.ports["smtp"], [("app@dash.test", ["later@dest.test"], "later")])[0]
            self.assertTrue(wait_until(lambda: self.admin(server, "/admin/dlq") != [], 30),
                            "the deferred message never reached the dead-letter queue")
            self.assertTrue(wait_until(lambda: sink.count() >= 12, 15))
            self.assertTrue(wait_until(lambda: len(hook.events()) >= 12, 15))
            stats = self.admin(server, "/admin/stats?resolution=minute")
            totals = {k: sum(p[k] for p in stats["points"]) for k in ("sends", "deliveries", "bounces")}
            self.assertGreaterEqual(totals["sends"], 16)
            self.assertEqual(totals["deliveries"], 12)
            self.assertEqual(totals["bounces"], 3)
            # The deferred recipient is accepted once it is redriven.
            sink.rules = [r for r in sink.rules if r[0].pattern != "^later"]

            got = drive({
                "base": f"http://127.0.0.1:{server.ports['http']}", "user": key["AccessKeyId"],
                "password": key["SecretAccessKey"], "wrongPassword": "not-the-secret",
                "shots": SHOTS, "admin": {"user": "ops", "password": "ops-password-1"}, "redrive": True,
                "suppression": {"add": "new@added.test", "remove": "old1@suppressed.test",
                                "search": "suppressed.test"},
                "messageId": hard[0], "domain": "dash.test"})
            self.assertNotIn("error", got, got.get("error"))
            self.assertEqual(got["consoleErrors"], [])
            # Login: refused, then in.
            self.assertTrue(got["loginShownFirst"])
            self.assertIn("wrong user or password", got["wrongPasswordError"])
            self.assertTrue(got["appHiddenAfterWrongPassword"])
            self.assertEqual(got["user"], key["AccessKeyId"])
            # The charts draw what the statistics say, with raised points.
            vol, fb = got["overview"]["volume"], got["overview"]["feedback"]
            self.assertEqual(vol["sends"]["total"], totals["sends"])
            self.assertEqual(vol["deliveries"]["total"], totals["deliveries"])
            self.assertEqual(fb["bounces"]["total"], totals["bounces"])
            self.assertGreater(vol["sends"]["raised"], 0)
            self.assertGreater(fb["bounces"]["raised"], 0)
            self.assertGreater(fb["deferrals"]["total"], 0)
            self.assertEqual(got["overview"]["cards"]["sends"], totals["sends"])
            self.assertEqual(vol["sends"]["points"], 144)  # 24 hours of 10 minutes
            self.assertEqual(got["overviewHourPoints"], 60)
            # Reputation: 3 bounces of 16+ sends is over 5%, so the alarm fires.
            self.assertAlmostEqual(got["reputation"]["bounceGauge"],
                                   self.admin(server, "/admin/reputation")["scopes"][0]["bounceRate"], places=4)
            self.assertGreater(got["reputation"]["bounceGauge"], 0.1)
            self.assertIn(got["reputation"]["status"], ("HEALTHY", "PROBATION", "SHUTDOWN"))
            self.assertEqual(got["reputation"]["alarms"][0][0], "bounce-rate")
            # Queues and the dead-letter queue, redriven from its button.
            self.assertTrue(any("dest.test" in s or "127.0.0.2" in s for s in got["queues"]["sites"]),
                            got["queues"])
            self.assertEqual(got["queues"]["dead"], 1)
            self.assertEqual(got["queues"]["dlqRows"], [later])
            # The webhook's subscription: healthy, its 12 Delivery events delivered.
            subs = got["queues"]["eventSubs"]
            self.assertEqual(len(subs), 1, subs)
            self.assertEqual(subs[0][1], hook.url)
            self.assertEqual(subs[0][2], "SNS envelope")
            self.assertEqual(subs[0][3], "OK")
            self.assertEqual(subs[0][5], "12")
            self.assertEqual(got["redriven"], later)
            self.assertIn("1 recipient", got["redriveToast"])
            self.assertEqual(got["dlqRowsAfter"], 0)
            self.assertTrue(wait_until(lambda: any(r == "later@dest.test" for _, r in sink.pairs()), 15),
                            "the redriven message was not delivered")
            self.assertEqual(self.admin(server, "/admin/dlq"), [])
            # Suppression list edits reached the store.
            # The hard bounces joined the list on their own.
            self.assertEqual(sorted(got["suppressionBefore"]),
                             ["hard0@dest.test", "hard1@dest.test", "hard2@dest.test", "keep@other.test",
                              "old1@suppressed.test", "old2@suppressed.test"])
            self.assertIn("new@added.test", got["suppressionAfterAdd"])
            self.assertEqual(sorted(got["suppressionSearch"]), ["old1@suppressed.test", "old2@suppressed.test"])
            self.assertNotIn("old1@suppressed.test", got["suppressionAfterRemove"])
            listed = {d["EmailAddress"]: d["Reason"] for d in
                      v2.list_suppressed_destinations()["SuppressedDestinationSummaries"]}
            self.assertEqual(listed.get("new@added.test"), "COMPLAINT")
            self.assertNotIn("old1@suppressed.test", listed)
            self.assertIn("old2@suppressed.test", listed)
            # Identities: the records as DNS serves them now (only SPF is published).
            self.assertIn("dash.test", got["identities"]["names"])
            status = {r["purpose"]: r["status"] for r in got["identities"]["records"]}
            self.assertEqual(status["spf"], "ok")
            self.assertEqual(status["dkim"], "missing")
            self.assertEqual(status["verification"], "missing")
            # Message search: the bounced message's timeline.
            self.assertIn("failed", got["timeline"])
            # Logout ends the session; the admin credentials log in too.
            self.assertEqual(got["adminAfterLogout"], 401)
            self.assertEqual(got["adminUser"], "ops")
            for name in ("02-overview", "04-queues-before-redrive", "07-suppression-edited", "08-identities"):
                self.assertGreater(os.path.getsize(os.path.join(SHOTS, name + ".png")), 10000)
        finally:
            server.cleanup()
            sink.stop()
            dns.stop()
            hook.stop()

    def test_captured_mail_in_the_local_profile(self):
        server = Sesame(delivery=("delivery: {mode: capture}\napi: {auto_verify: true, local_mailbox: true}\n"
                                  "dashboard: {admin_user: dev, admin_password: dev-password-1}\n")).start()
        try:
            key = create_key(server)
            v2 = boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{server.ports['http']}",
                              region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"])
            v2.send_email(FromEmailAddress="dev@example.com", Destination={"ToAddresses": ["you@example.org"]},
                          Content={"Simple": {"Subject": {"Data": "Captured subject"},
                                              "Body": {"Text": {"Data": "The captured body text."}}}})
            self.assertTrue(wait_until(lambda: self.admin(server, "/_aws/ses")["messages"], 10))
            got = drive({"base": f"http://127.0.0.1:{server.ports['http']}", "user": "dev",
                         "password": "dev-password-1", "wrongPassword": "nope", "shots": SHOTS, "mail": True})
            self.assertNotIn("error", got, got.get("error"))
            self.assertEqual(got["consoleErrors"], [])
            self.assertTrue(got["mailNavVisible"])
            self.assertEqual(got["mailRows"], ["Captured subject"])
            self.assertIn("The captured body text.", got["mailBody"])
        finally:
            server.cleanup()


    def test_a_read_only_user_sees_data_and_no_buttons(self):
        server = Sesame(delivery="delivery: {mode: capture}\n").start()
        try:
            root = create_key(server)
            viewer = make_user(server, root, "viewer", ["ses:Get*", "ses:List*"])
            base = f"http://127.0.0.1:{server.ports['http']}"
            v2 = boto3.client("sesv2", endpoint_url=base, region_name="us-east-1",
                              aws_access_key_id=root["AccessKeyId"], aws_secret_access_key=root["SecretAccessKey"])
            v2.put_suppressed_destination(EmailAddress="kept@dest.test", Reason="BOUNCE")
            v2.create_email_identity(EmailIdentity="seen.test")
            v2.create_configuration_set(ConfigurationSetName="cs-ro")
            got = drive({"base": base, "user": viewer["AccessKeyId"], "password": viewer["SecretAccessKey"],
                         "wrongPassword": "nope", "shots": SHOTS, "readOnly": {"address": "kept@dest.test"}})
            self.assertNotIn("error", got, got.get("error"))
            self.assertEqual(got["consoleErrors"], [])
            self.assertEqual(got["user"], viewer["AccessKeyId"])
            self.assertEqual(got["suppressionListed"], ["kept@dest.test"])
            self.assertEqual(got["removeButtons"], 0)
            self.assertTrue(got["addFormHidden"])
            # Identities and configuration sets are shown, with no management buttons.
            self.assertTrue(got["identityFormHidden"])
            self.assertEqual(got["identityDeleteButtons"], 0)
            self.assertGreaterEqual(got["identitiesListed"], 1)
            self.assertEqual(got["configSetsListed"], ["cs-ro"])
            self.assertEqual(got["configSetButtons"], 0)
            # Pages whose data the policy does not cover are not offered.
            self.assertIn("suppression", got["navShown"])
            self.assertNotIn("queues", got["navShown"])
            self.assertNotIn("messages", got["navShown"])
            self.assertNotIn("keys", got["navShown"])  # no iam:ListAccessKeys
            arn = f"arn:aws:iam::{ACCOUNT}:user/viewer"
            remove, purge = got["directEdits"]["remove"], got["directEdits"]["purge"]
            self.assertEqual(remove["status"], 403)
            self.assertEqual(remove["body"]["message"],
                             f"User: {arn} is not authorized to perform: ses:DeleteSuppressedDestination "
                             "on resource: *")
            self.assertEqual(purge["status"], 403)
            self.assertIn("sesame:PurgeDeadLetters", purge["body"]["message"])
            self.assertTrue(got["stillLoggedIn"])  # a denial is no logout
            self.assertEqual(v2.get_suppressed_destination(EmailAddress="kept@dest.test")
                             ["SuppressedDestination"]["Reason"], "BOUNCE")
        finally:
            server.cleanup()


    def test_identities_and_configuration_sets_managed_from_the_page(self):
        server = Sesame(delivery="delivery: {mode: capture}\n").start()
        try:
            root = create_key(server)
            base = f"http://127.0.0.1:{server.ports['http']}"
            v2 = boto3.client("sesv2", endpoint_url=base, region_name="us-east-1",
                              aws_access_key_id=root["AccessKeyId"], aws_secret_access_key=root["SecretAccessKey"])
            v2.create_configuration_set(ConfigurationSetName="campaigns")

            def send():
                try:
                    v2.send_email(FromEmailAddress="news@managed.test", Destination={"ToAddresses": ["a@dest.test"]},
                                  ConfigurationSetName="campaigns",
                                  Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
                    return None
                except botocore.exceptions.ClientError as e:
                    return e.response["Error"]["Code"]
            plan = {"base": base, "user": root["AccessKeyId"], "password": root["SecretAccessKey"],
                    "wrongPassword": "nope", "shots": SHOTS}
            got = drive(dict(plan, manage={"createIdentity": "managed.test", "configSet": "campaigns",
                                           "pause": True}))
            self.assertNotIn("error", got, got.get("error"))
            self.assertEqual(got["consoleErrors"], [])
            self.assertIn("managed.test", got["identities"])
            self.assertEqual(got["configSetButton"], "Resume")
            # Made through the page, seen through the API; paused in the page, refused as SES does.
            self.assertEqual(v2.get_email_identity(EmailIdentity="managed.test")["IdentityType"], "DOMAIN")
            self.assertFalse(v2.get_configuration_set(ConfigurationSetName="campaigns")
                             ["SendingOptions"]["SendingEnabled"])
            self.assertEqual(send(), "SendingPausedException")
            got = drive(dict(plan, manage={"configSet": "campaigns", "pause": False}))
            self.assertNotIn("error", got, got.get("error"))
            self.assertEqual(got["configSetButton"], "Pause")
            self.assertIsNone(send())
            # The message is found by its subject; its headers and timeline open from the row.
            self.assertTrue(wait_until(lambda: server.admin("/admin/messages/search?subject=s")["Messages"], 10))
            got = drive(dict(plan, manage={"configSet": "campaigns", "pause": False, "findSubject": "s"}))
            self.assertNotIn("error", got, got.get("error"))
            self.assertEqual(got["foundSubjects"], ["s"])
            self.assertIn("Subject", got["headerNames"])
            self.assertIn("delivered", got["timeline"])
            # A template written in the page, previewed as SES renders it, then used by a send; a
            # configuration set created in the page.
            got = drive(dict(plan, manage={"configSet": "campaigns", "pause": False, "createConfigSet": "made-here",
                                           "template": {"name": "welcome", "subject": "Hello {{name}}",
                                                        "text": "Dear {{name}},\nwelcome.",
                                                        "html": "<p>Dear <b>{{name}}</b></p>",
                                                        "data": "{\"name\": \"Grace\"}"}}))
            self.assertNotIn("error", got, got.get("error"))
            self.assertEqual(got["preview"]["subject"], "Hello Grace")
            self.assertIn("Dear Grace,", got["preview"]["text"])
            self.assertIn("<b>Grace</b>", got["preview"]["html"])
            self.assertEqual(got["preview"]["sandbox"], "")
            self.assertEqual(v2.get_email_template(TemplateName="welcome")["TemplateContent"]["Subject"],
                             "Hello {{name}}")
            self.assertEqual(v2.get_configuration_set(ConfigurationSetName="made-here")["ConfigurationSetName"],
                             "made-here")
            v2.send_email(FromEmailAddress="news@managed.test", Destination={"ToAddresses": ["t@dest.test"]},
                          ConfigurationSetName="made-here",
                          Content={"Template": {"TemplateName": "welcome", "TemplateData": "{\"name\": \"Lin\"}"}})
            # An access key made in the page: refused while Inactive, working (API and SMTP AUTH
            # with the SMTP password shown) once active, refused once deleted.
            got = drive(dict(plan, manage={"configSet": "campaigns", "pause": False,
                                           "keys": {"create": True, "toggle": True}}))
            self.assertNotIn("error", got, got.get("error"))
            new_key = got["newKey"]
            self.assertEqual(got["keyButton"], "Activate")
            self.assertIn(new_key["id"], got["keysListed"])
            self.assertEqual(new_key["smtpPassword"], smtp_password(new_key["secret"]))
            client = boto3.client("sesv2", endpoint_url=base, region_name="us-east-1",
                                  aws_access_key_id=new_key["id"], aws_secret_access_key=new_key["secret"])
            with self.assertRaises(botocore.exceptions.ClientError):
                client.get_account()
            got = drive(dict(plan, manage={"configSet": "campaigns", "pause": False,
                                           "keys": {"id": new_key["id"], "toggle": True}}))
            self.assertEqual(got["keyButton"], "Deactivate")
            self.assertIn("SendQuota", client.get_account())
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as smtp:
                smtp.starttls(context=tls_client_context())
                smtp.login(new_key["id"], new_key["smtpPassword"])
            got = drive(dict(plan, manage={"configSet": "campaigns", "pause": False,
                                           "keys": {"id": new_key["id"], "delete": True}}))
            self.assertNotIn(new_key["id"], got["keysListed"])
            with self.assertRaises(botocore.exceptions.ClientError):
                client.get_account()
            got = drive(dict(plan, manage={"deleteIdentity": "managed.test", "configSet": "campaigns",
                                           "pause": False}))
            self.assertNotIn("error", got, got.get("error"))
            self.assertNotIn("managed.test", got["identities"])
            with self.assertRaises(botocore.exceptions.ClientError) as ctx:
                v2.get_email_identity(EmailIdentity="managed.test")
            self.assertEqual(ctx.exception.response["Error"]["Code"], "NotFoundException")
        finally:
            server.cleanup()


def make_user(server, root, name, actions):
    """An IAM user allowed `actions` on everything, and its access key."""
    iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{server.ports['http']}", region_name="us-east-1",
                       aws_access_key_id=root["AccessKeyId"], aws_secret_access_key=root["SecretAccessKey"])
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    return iam.create_access_key(UserName=name)["AccessKey"]


def login(base, key):
    """A dashboard session over plain HTTP: (cookie, csrf)."""
    req = urllib.request.Request(base + "/ui/login", method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"user": key["AccessKeyId"],
                                                  "password": key["SecretAccessKey"]}).encode())
    with urllib.request.urlopen(req, timeout=5) as r:
        cookie = r.headers["Set-Cookie"].split(";")[0]
        return cookie, json.loads(r.read())["csrf"]


def status_of(base, path, cookie, csrf, method="GET"):
    req = urllib.request.Request(base + path, method=method, headers={"Cookie": cookie, "X-Sesame-Csrf": csrf})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class AdminApiWithoutABrowser(unittest.TestCase):
    """No browser needed: the admin API's refusals, tested over plain HTTP."""

    def test_admin_api_refuses_other_sites_and_strangers(self):
        server = Sesame().start()
        try:
            base = f"http://127.0.0.1:{server.ports['http']}"
            # A local tool with the admin token is served; loopback alone is no
            # credential (a webhook the server itself calls comes from loopback),
            # nor is a page on another site driving the browser, nor a forged cookie.
            self.assertIn("sites", server.admin("/admin/queues"))
            for path, method in (("/admin/queues", "GET"), ("/admin/dlq/purge", "POST")):
                with self.assertRaises(urllib.error.HTTPError) as ctx:
                    server.admin(path, method, token=False)
                self.assertEqual(ctx.exception.code, 401, path)
            for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                            {"Cookie": "sesame_session=forged", "Origin": "http://evil.example"}):
                req = urllib.request.Request(base + "/admin/dlq/redrive", method="POST", headers=headers)
                with self.assertRaises(urllib.error.HTTPError) as ctx:
                    urllib.request.urlopen(req, timeout=5)
                self.assertEqual(ctx.exception.code, 401, headers)
            # No admin credentials configured: the admin login does not exist,
            # and a key of another account cannot log in.
            other = json.loads(subprocess.run(
                [BINARY, "keys", "create", "--account", "111122223333", "--json", "--config", server.config_path],
                capture_output=True, text=True, check=True).stdout)
            for body in ({"user": "admin", "password": "admin"},
                         {"user": other["AccessKeyId"], "password": other["SecretAccessKey"]}):
                req = urllib.request.Request(base + "/ui/login", data=json.dumps(body).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
                with self.assertRaises(urllib.error.HTTPError) as ctx:
                    urllib.request.urlopen(req, timeout=5)
                self.assertEqual(ctx.exception.code, 401)
        finally:
            server.cleanup()


    @requires(boto3 is not None, "boto3 missing")
    def test_sent_messages_are_found_by_sender_recipient_subject_and_time(self):
        server = Sesame(delivery="delivery: {mode: capture}\n").start()
        try:
            root = create_key(server)
            v2 = boto3.client("sesv2", endpoint_url=f"http://127.0.0.1:{server.ports['http']}",
                              region_name="us-east-1", aws_access_key_id=root["AccessKeyId"],
                              aws_secret_access_key=root["SecretAccessKey"])

            def send(sender, to, subject):
                return v2.send_email(FromEmailAddress=sender, Destination={"ToAddresses": [to]},
                                     Content={"Simple": {"Subject": {"Data": subject},
                                                         "Body": {"Text": {"Data": "b"}}}})["MessageId"]
            invoice = send("Billing <billing@shop.test>", "ann@dest.test", "Your invoice 42")
            news = send("news@shop.test", "bob@dest.test", "Weekly news")
            bulk = [send("bulk@shop.test", f"r{i}@dest.test", f"Bulk {i}") for i in range(55)]
            search = lambda q: server.admin("/admin/messages/search?" + urllib.parse.urlencode(q))
            self.assertTrue(wait_until(lambda: len(search({"from": "shop.test"})["Messages"]) == 50, 15))
            got = search({"subject": "INVOICE"})["Messages"]
            self.assertEqual([m["MessageId"] for m in got], [invoice])
            m = got[0]
            self.assertEqual((m["From"], m["Subject"], m["Recipients"]),
                             ("Billing <billing@shop.test>", "Your invoice 42", ["ann@dest.test"]))
            self.assertIn("Message-ID", [h[0] for h in m["Headers"]])
            self.assertEqual([x["Subject"] for x in search({"to": "bob@"})["Messages"]], ["Weekly news"])
            self.assertEqual(search({"from": "nobody@"})["Messages"], [])
            # Paging, newest first: 57 messages are 50 and 7, each once.
            first = search({"from": "shop.test"})
            self.assertTrue(first["Next"])
            second = search({"from": "shop.test", "cursor": first["Next"]})
            ids = [x["MessageId"] for x in first["Messages"] + second["Messages"]]
            self.assertEqual(len(ids), 57)
            self.assertEqual(set(ids), set(bulk) | {invoice, news})
            self.assertEqual(second["Next"], "")
            self.assertEqual(ids[0], bulk[-1])  # the newest first
            # A time range: nothing before the first send.
            before = int(time.time() * 1000) - 3600 * 1000
            self.assertEqual(search({"until": str(before)})["Messages"], [])
            self.assertEqual([x["Subject"] for x in search({"since": str(before), "subject": "bulk 17"})["Messages"]],
                             ["Bulk 17"])
        finally:
            server.cleanup()

    @requires(boto3 is not None, "boto3 missing")
    def test_admin_rows_follow_the_users_policies(self):
        server = Sesame().start()
        try:
            base = f"http://127.0.0.1:{server.ports['http']}"
            root = create_key(server)
            ops = make_user(server, root, "ops", ["sesame:GetQueues", "sesame:ListDeadLetters"])
            cookie, csrf = login(base, ops)
            self.assertEqual(status_of(base, "/admin/queues", cookie, csrf)[0], 200)
            self.assertEqual(status_of(base, "/admin/dlq", cookie, csrf)[0], 200)
            status, body = status_of(base, "/admin/dlq/purge", cookie, csrf, "POST")
            self.assertEqual((status, body["__type"]), (403, "AccessDeniedException"))
            self.assertEqual(status_of(base, "/admin/suppression", cookie, csrf)[0], 403)
            status, perms = status_of(base, "/admin/permissions", cookie, csrf)
            self.assertEqual(status, 200)
            self.assertTrue(perms["Allowed"]["sesame:GetQueues"])
            self.assertFalse(perms["Allowed"]["sesame:PurgeDeadLetters"])
            self.assertFalse(perms["Allowed"]["ses:DeleteSuppressedDestination"])
            self.assertEqual(perms["Principal"], f"arn:aws:iam::{ACCOUNT}:user/ops")
            # A root session may do all of it.
            rcookie, rcsrf = login(base, root)
            self.assertTrue(all(status_of(base, "/admin/permissions", rcookie, rcsrf)[1]["Allowed"].values()))
            self.assertEqual(status_of(base, "/admin/dlq/purge", rcookie, rcsrf, "POST")[0], 200)
            # The session ends with its key: made Inactive, refused at once.
            iam = boto3.client("iam", endpoint_url=base, region_name="us-east-1",
                               aws_access_key_id=root["AccessKeyId"], aws_secret_access_key=root["SecretAccessKey"])
            iam.update_access_key(UserName="ops", AccessKeyId=ops["AccessKeyId"], Status="Inactive")
            status, body = status_of(base, "/admin/queues", cookie, csrf)
            self.assertEqual(status, 401)  # no credential any more, not a policy's denial
            self.assertNotIn("__type", body)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
