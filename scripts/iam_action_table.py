#!/usr/bin/python3
"""The IAM action and resource type of every operation Sesame answers, for
docs/security.md (between the iam-actions markers): SES v1 and SESv2 and
SNS from the route tables (`sesame api operations`), IAM from src/api/iam.cc,
the admin API's rows from src/api/admin.cc,
the names and shapes from Debian's botocore models. The resource rules are
the ones src/api/authorize.cc applies.

  scripts/iam_action_table.py --write [--binary build/sesame]
  scripts/iam_action_table.py --check [--binary build/sesame]
"""
import os
import re
import subprocess
import sys

import botocore.session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "security.md")
BEGIN, END = "<!-- iam-actions:begin -->", "<!-- iam-actions:end -->"
SENDS = {"SendEmail", "SendRawEmail", "SendTemplatedEmail", "SendBulkTemplatedEmail", "SendBulkEmail"}
V1_MEMBERS = [("Identity", "identity"), ("EmailAddress", "identity"), ("Domain", "identity"),
              ("ConfigurationSetName", "configuration-set"), ("ConfigurationSet", "configuration-set"),
              ("TemplateName", "template"), ("Template", "template"), ("RuleSetName", "receipt-rule-set"),
              ("FilterName", "receipt-filter"), ("Filter", "receipt-filter")]
V2_COLLECTIONS = {"identities": "identity", "configuration-sets": "configuration-set", "templates": "template",
                  "custom-verification-email-templates": "custom-verification-email-template",
                  "dedicated-ip-pools": "dedicated-ip-pool", "contact-lists": "contact-list"}


def v1_resource(op):
    if op.name in SENDS:
        return "identity (the From address's; with ses:FromAddress, ses:Recipients)"
    members = op.input_shape.members if op.input_shape else {}
    for member, kind in V1_MEMBERS:
        if member in members:
            if kind == "template" and "CustomVerification" in op.name:
                return "custom-verification-email-template"
            return kind
    return "*"


def v2_resource(op):
    if op.name in SENDS:
        return "identity (the From address's; with ses:FromAddress, ses:Recipients)"
    if "Tag" in op.name:
        return "the ResourceArn named"
    segs = op.http["requestUri"].split("?")[0].strip("/").split("/")
    for a, b in zip(segs, segs[1:]):
        if b.startswith("{") and a in V2_COLLECTIONS:
            return V2_COLLECTIONS[a]
    return "*"


def sns_resource(op):
    members = op.input_shape.members if op.input_shape else {}
    if "TopicArn" in members or op.name in ("CreateTopic", "Unsubscribe", "GetSubscriptionAttributes",
                                            "SetSubscriptionAttributes", "ConfirmSubscription"):
        return "topic"
    if "ResourceArn" in members:
        return "the ResourceArn named"
    return "*"


def iam_resource(op):
    members = op.input_shape.members if op.input_shape else {}
    for member, kind in (("PolicyArn", "policy"), ("UserName", "user"), ("GroupName", "group"),
                         ("PolicySourceArn", "user")):
        if member in members:
            return kind
    return "policy" if op.name == "CreatePolicy" else "*"


def rows(binary):
    session = botocore.session.get_session()
    ops = subprocess.run([binary, "api", "operations"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    out = []
    v1 = session.get_service_model("ses")
    for line in ops:
        service, name = line.split(" ", 1)
        if service == "ses":
            out.append((f"ses:{name}", "v1", v1_resource(v1.operation_model(name))))
        elif service == "sns":
            m = session.get_service_model("sns")
            out.append((f"sns:{name}", "SNS", sns_resource(m.operation_model(name))))
    v2 = session.get_service_model("sesv2")
    implemented = set()
    for line in ops:
        if line.startswith("sesv2 "):
            method, path = line.split(" ", 2)[1:]
            implemented.add((method, re.sub(r"\{[^}]*\}", "{}", path)))
    for name in v2.operation_names:
        op = v2.operation_model(name)
        key = (op.http["method"], re.sub(r"\{[^}]*\}", "{}", op.http["requestUri"].split("?")[0]))
        if key in implemented:
            out.append((f"ses:{name}", "v2", v2_resource(op)))
    iam = session.get_service_model("iam")
    with open(os.path.join(ROOT, "src", "api", "iam.cc")) as f:
        for name in re.findall(r'\{"(\w+)", \w+\},', f.read()):
            out.append((f"iam:{name}", "IAM", iam_resource(iam.operation_model(name))))
    # The admin API (the dashboard, /admin/*): each row names its action.
    with open(os.path.join(ROOT, "src", "api", "admin.cc")) as f:
        for method, path, action in re.findall(r'Gated\("(\w+)",\s*"([^"]+)",\s*"([^"]*)"', f.read()):
            if action:
                resource = "identity" if path == "/admin/identities/records" else "*"
                out.append((action, f"admin `{method} {path}`", resource))
    return sorted(set(out))


def table(binary):
    lines = ["| Action | API | Resource type |", "|---|---|---|"]
    lines += [f"| `{a}` | {api} | {r} |" for a, api, r in rows(binary)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    binary = sys.argv[sys.argv.index("--binary") + 1] if "--binary" in sys.argv else \
        os.path.join(ROOT, "build", "sesame")
    text = open(DOC).read()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + table(binary) + END + tail
    if "--check" in sys.argv:
        sys.exit(0 if new == text else 1)
    if "--write" in sys.argv:
        open(DOC, "w").write(new)
    else:
        print(table(binary), end="")
