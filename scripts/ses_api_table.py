#!/usr/bin/python3
"""The SES API coverage table, docs/ses-api.md, made from the code's route
tables (`sesame api operations`) and the service models in Debian's botocore
(python3-botocore): every operation of SES v1 (2010-12-01), SESv2 and SNS,
marked implemented, not applicable (with the reason), deferred (to the issue
that owns it) or missing. Nothing in the table is written by hand except the
reasons below, so the table cannot drift from the code.

  scripts/ses_api_table.py [--binary build/sesame]          print the table
  scripts/ses_api_table.py --check [--binary build/sesame]  compare with docs
  scripts/ses_api_table.py --write [--binary build/sesame]  rewrite the docs
"""
import os
import re
import subprocess
import sys

import botocore.session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "ses-api.md")
SERVICES = [("ses", "SES v1 (2010-12-01)"), ("sesv2", "SESv2 (2019-09-27)"),
            ("sns", "SNS (2010-03-31), the subset SES notifications use")]

_DASHBOARD = ("the Deliverability Dashboard: inbox placement and blocklist "
              "data come from AWS's seed accounts and partners")
_VDM = ("Virtual Deliverability Manager: its metrics and advice come from "
        "AWS's data across senders")
_PUSH = "mobile push (platform applications and endpoints): not email"
_SMS = "SMS and phone numbers: not email"
_CONTACTS = "contact lists and list management have an issue of their own"

# Operations that do not apply to a self-hosted server, and why.
NOT_APPLICABLE = {
    "sesv2": {
        **{op: _DASHBOARD for op in [
            "CreateDeliverabilityTestReport", "GetDeliverabilityTestReport",
            "ListDeliverabilityTestReports", "GetDeliverabilityDashboardOptions",
            "PutDeliverabilityDashboardOption", "GetDomainDeliverabilityCampaign",
            "ListDomainDeliverabilityCampaigns", "GetDomainStatisticsReport",
            "GetBlacklistReports"]},
        **{op: _VDM for op in [
            "BatchGetMetricData", "ListRecommendations",
            "PutAccountVdmAttributes", "PutConfigurationSetVdmOptions"]},
        "PutAccountDetails": ("asks AWS Support for production access; "
                              "Sesame has no sandbox to leave"),
    },
    "sns": {
        **{op: _PUSH for op in [
            "CreatePlatformApplication", "CreatePlatformEndpoint",
            "DeleteEndpoint", "DeletePlatformApplication",
            "GetEndpointAttributes", "GetPlatformApplicationAttributes",
            "ListEndpointsByPlatformApplication", "ListPlatformApplications",
            "SetEndpointAttributes", "SetPlatformApplicationAttributes"]},
        **{op: _SMS for op in [
            "CheckIfPhoneNumberIsOptedOut", "CreateSMSSandboxPhoneNumber",
            "DeleteSMSSandboxPhoneNumber", "GetSMSAttributes",
            "GetSMSSandboxAccountStatus", "ListOriginationNumbers",
            "ListPhoneNumbersOptedOut", "ListSMSSandboxPhoneNumbers",
            "OptInPhoneNumber", "SetSMSAttributes",
            "VerifySMSSandboxPhoneNumber"]},
        **{op: ("message data protection is Amazon Macie's pattern "
                "detection over published payloads") for op in [
            "GetDataProtectionPolicy", "PutDataProtectionPolicy"]},
        **{op: ("cross-account topic permissions: access to Sesame's "
                "topics is its keys' (and IAM policies')") for op in [
            "AddPermission", "RemovePermission"]},
        **{op: ("Sesame's topics carry SES notifications and alarms; "
                "publishing an application's own messages makes SNS a "
                "general message bus, which Sesame is not") for op in [
            "Publish", "PublishBatch"]},
    },
}

# Operations that apply but belong to another piece of work.
DEFERRED = {
    "sesv2": {**{op: _CONTACTS for op in [
        "CreateContact", "CreateContactList", "DeleteContact",
        "DeleteContactList", "GetContact", "GetContactList",
        "ListContactLists", "ListContacts", "UpdateContact",
        "UpdateContactList", "CreateImportJob", "GetImportJob",
        "ListImportJobs"]}},
}


def route_key(method, uri):
    """A REST route without its parameter names or query string."""
    return method + " " + re.sub(r"\{[^}]*\}", "{}", uri.split("?")[0])


def routes(binary):
    out = subprocess.run([binary, "api", "operations"], check=True,
                         capture_output=True, text=True).stdout
    rows = set()
    for line in out.splitlines():
        svc, rest = line.split(" ", 1)
        if svc == "sesv2":
            method, uri = rest.split(" ", 1)
            rows.add(("sesv2", route_key(method, uri)))
        else:
            rows.add((svc, rest))
    return rows


def status(svc, op, model, rows):
    """(status, note) of one operation."""
    if svc == "sesv2":
        http = model.operation_model(op).http
        key = route_key(http["method"], http["requestUri"])
        routed = (svc, key) in rows
        where = key
    else:
        routed = (svc, op) in rows
        where = f"Action={op}"
    if routed:
        return "implemented", where
    if op in NOT_APPLICABLE.get(svc, {}):
        return "not applicable", NOT_APPLICABLE[svc][op]
    if op in DEFERRED.get(svc, {}):
        return "deferred", DEFERRED[svc][op]
    return "missing", where


def operations(binary):
    """{svc: [(op, status, note)]} for every model operation."""
    rows = routes(binary)
    session = botocore.session.get_session()
    table = {}
    for svc, _ in SERVICES:
        model = session.get_service_model(svc)
        table[svc] = [(op, *status(svc, op, model, rows))
                      for op in sorted(model.operation_names)]
    return table


def render(table):
    lines = [
        "# SES API coverage",
        "",
        "Generated by `scripts/ses_api_table.py --write` from Sesame's route "
        "tables (`sesame api operations`) and the service models of Debian's "
        "botocore; `tests/ses_api_model_test.py` fails when this file and the "
        "code disagree. Do not edit by hand: the reasons live in the script.",
        "",
        "| API | operations | implemented | not applicable | deferred | missing |",
        "|---|---|---|---|---|---|",
    ]
    for svc, title in SERVICES:
        counts = {s: sum(1 for _, st, _ in table[svc] if st == s)
                  for s in ("implemented", "not applicable", "deferred",
                            "missing")}
        lines.append(f"| {title} | {len(table[svc])} | "
                     f"{counts['implemented']} | {counts['not applicable']} | "
                     f"{counts['deferred']} | {counts['missing']} |")
    for svc, title in SERVICES:
        lines += ["", f"## {title}", "", "| operation | status | route or reason |",
                  "|---|---|---|"]
        for op, st, note in table[svc]:
            note = f"`{note}`" if st in ("implemented", "missing") else note
            lines.append(f"| {op} | {st} | {note} |")
    return "\n".join(lines) + "\n"


def main(argv):
    binary = os.path.join(ROOT, "build", "sesame")
    if "--binary" in argv:
        binary = argv[argv.index("--binary") + 1]
    text = render(operations(binary))
    if "--write" in argv:
        with open(DOC, "w") as f:
            f.write(text)
        return 0
    if "--check" in argv:
        current = open(DOC).read() if os.path.exists(DOC) else ""
        if current != text:
            sys.stderr.write("docs/ses-api.md is out of date: run "
                             "scripts/ses_api_table.py --write\n")
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
