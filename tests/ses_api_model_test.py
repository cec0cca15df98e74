"""The SES API against its own service models (issue 15): botocore's SES,
SESv2 and SNS models from Debian's python3-botocore are the specification.

- docs/ses-api.md is what scripts/ses_api_table.py makes of the route tables
  now (so it cannot drift from the code);
- every operation of the three models has a route, or is listed as not
  applicable or deferred with a reason; none is missing;
- every routed operation, sent with one required member left out (client
  validation off, so the request really goes out without it), gets a 400
  validation error: not a 500, not a 404 for a resource, not a success;
- every routed operation, sent with all its required members (plausible
  values from the model's shapes), answers without a 5xx: a success or a
  4xx about the values.
"""
import datetime
import json
import os
import subprocess
import sys
import unittest

from harness import BINARY, Sesame

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    import botocore.session
except ImportError:  # pragma: no cover
    boto3 = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

# The error codes that say "your request is malformed", per protocol.
VALIDATION_CODES = {
    "ValidationError", "ValidationException", "InvalidParameterValue",
    "BadRequestException", "MissingParameter", "InvalidParameter",
    "InvalidParameterException", "InvalidTemplate", "InvalidTrackingOptions",
    "InvalidDeliveryOptions", "InvalidConfigurationSet",
    "InvalidSNSDestination", "InvalidCloudWatchDestination",
    "InvalidFirehoseDestination", "InvalidPolicy", "InvalidPolicyException",
}


def dummy(shape, depth=0):
    """A plausible value of `shape` with every required member filled."""
    t = shape.type_name
    if t == "structure":
        return {m: dummy(shape.members[m], depth + 1)
                for m in shape.required_members} if depth < 6 else {}
    if t == "list":
        return [dummy(shape.member, depth + 1)]
    if t == "map":
        return {"k": dummy(shape.value, depth + 1)}
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        return "dummy-value"
    if t in ("integer", "long"):
        return 1
    if t in ("double", "float"):
        return 1.0
    if t == "boolean":
        return True
    if t == "blob":
        return b"dummy"
    if t == "timestamp":
        return datetime.datetime(2026, 1, 1)
    return "x"


@unittest.skipUnless(boto3, "python3-boto3 missing")
class ServiceModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Sesame(delivery="delivery: {mode: capture}\n").start()
        key = json.loads(subprocess.run(
            [BINARY, "keys", "create", "--json", "--config", cls.server.config_path],
            capture_output=True, text=True, check=True).stdout)
        cfg = botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1})
        kw = dict(endpoint_url=f"http://127.0.0.1:{cls.server.ports['http']}",
                  region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                  aws_secret_access_key=key["SecretAccessKey"], config=cfg)
        cls.clients = {svc: boto3.client(svc, **kw) for svc in ("ses", "sesv2", "sns")}
        import ses_api_table
        cls.table_module = ses_api_table
        cls.table = ses_api_table.operations(BINARY)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_docs_table_is_generated_from_the_routes(self):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "ses_api_table.py"),
                            "--check", "--binary", BINARY], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_every_operation_has_a_route_or_a_reason(self):
        missing = [f"{svc} {op} ({note})" for svc, rows in self.table.items()
                   for op, status, note in rows if status == "missing"]
        self.assertEqual(missing, [])
        for svc, rows in self.table.items():
            for op, status, note in rows:
                if status in ("not applicable", "deferred"):
                    self.assertGreater(len(note), 20, f"{svc} {op}: the reason is too short")

    def test_a_missing_required_member_is_a_validation_error(self):
        session = botocore.session.get_session()
        failures, checked = [], 0
        for svc, rows in self.table.items():
            model = session.get_service_model(svc)
            client = self.clients[svc]
            for op, status, _ in rows:
                if status != "implemented":
                    continue
                om = model.operation_model(op)
                shape = om.input_shape
                if shape is None:
                    continue
                full = dummy(shape)
                for member in shape.required_members:
                    loc = shape.members[member].serialization.get("location")
                    if loc == "uri":
                        continue  # a path segment: the route itself needs it
                    m_shape = shape.members[member]
                    if (model.protocol == "query" and m_shape.type_name == "structure"
                            and not m_shape.required_members):
                        # On the Query wire an empty structure is no fields at
                        # all: leaving it out is the same request as {}.
                        continue
                    params = {k: v for k, v in full.items() if k != member}
                    checked += 1
                    method = getattr(client, botocore.xform_name(op))
                    try:
                        method(**params)
                        failures.append(f"{svc} {op} without {member}: succeeded")
                    except botocore.exceptions.ClientError as e:
                        err = e.response["Error"]
                        http = e.response["ResponseMetadata"]["HTTPStatusCode"]
                        if http != 400 or err.get("Code") not in VALIDATION_CODES:
                            failures.append(f"{svc} {op} without {member}: {http} "
                                            f"{err.get('Code')} {err.get('Message')}")
                    except botocore.exceptions.BotoCoreError as e:
                        failures.append(f"{svc} {op} without {member}: {type(e).__name__} {e}")
        self.assertGreater(checked, 100)
        self.assertEqual(failures, [], f"{len(failures)} of {checked}:\n" + "\n".join(failures))


    def test_a_request_with_its_required_members_never_gets_a_5xx(self):
        session = botocore.session.get_session()
        failures, checked = [], 0
        for svc, rows in self.table.items():
            model = session.get_service_model(svc)
            for op, status, _ in rows:
                if status != "implemented":
                    continue
                shape = model.operation_model(op).input_shape
                checked += 1
                try:
                    getattr(self.clients[svc], botocore.xform_name(op))(**(dummy(shape) if shape else {}))
                except botocore.exceptions.ClientError as e:
                    http = e.response["ResponseMetadata"]["HTTPStatusCode"]
                    if http >= 500:
                        failures.append(f"{svc} {op}: {http} {e.response['Error']}")
                except botocore.exceptions.BotoCoreError as e:
                    failures.append(f"{svc} {op}: {type(e).__name__} {e}")
        self.assertGreater(checked, 100)
        self.assertEqual(failures, [])

if __name__ == "__main__":
    unittest.main()
