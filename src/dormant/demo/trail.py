"""A CloudTrail bucket for the emulated account, written from the account's own state.

Every role that IAM says was used is assumed in the trail by whoever its trust policy names
(an AWS service, another account, a SAML or OIDC provider), its last assumption at its
RoleLastUsed time; every used access key signs calls at its last-used time; every password use
is a ConsoleLogin. Earlier events spread over the weeks before. So the trail never claims a use
IAM does not know of, and the scan's verdicts stay those of the labels, while the report can
name who assumed each role.

Objects are written as CloudTrail writes them: ``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/
DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz``, gzipped ``{"Records": [...]}``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import uuid
from collections import defaultdict
from typing import Any

from . import moto_ext
from .server import Emulator

REGION = "us-east-1"


def _t(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _trust_principals(document: Any) -> list[tuple[str, str]]:
    """(kind, principal) of every Allow statement of a trust policy."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    out = []
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for st in statements if isinstance(statements, list) else [statements]:
        if st.get("Effect") != "Allow":
            continue
        for kind, who in (st.get("Principal") or {}).items():
            for p in who if isinstance(who, list) else [who]:
                out.append((kind, p))
    return out


def _assume_event(
    account: str, role_arn: str, kind: str, who: str, when: dt.datetime, rng: random.Random
) -> dict[str, Any]:
    role_name = role_arn.rsplit("/", 1)[-1]
    session = f"{role_name}-{rng.randrange(10**6):06d}"
    base: dict[str, Any] = {
        "eventVersion": "1.08",
        "eventTime": _t(when),
        "eventSource": "sts.amazonaws.com",
        "awsRegion": REGION,
        "sourceIPAddress": "192.0.2.10",
        "requestParameters": {"roleArn": role_arn, "roleSessionName": session},
        "responseElements": {
            "assumedRoleUser": {"arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"}
        },
        "resources": [{"ARN": role_arn, "accountId": account, "type": "AWS::IAM::Role"}],
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }
    if kind == "Service":
        base["eventName"] = "AssumeRole"
        base["userIdentity"] = {"type": "AWSService", "invokedBy": who}
        base["sourceIPAddress"] = who
    elif kind == "AWS":
        other = who.split(":")[4]
        base["eventName"] = "AssumeRole"
        base["userIdentity"] = {
            "type": "AWSAccount",
            "principalId": f"AIDA{rng.randrange(10**12):012d}",
            "accountId": other,
        }
        base["sharedEventID"] = str(uuid.UUID(int=rng.getrandbits(128)))
    elif kind == "Federated" and ":saml-provider/" in who:
        base["eventName"] = "AssumeRoleWithSAML"
        base["requestParameters"]["principalArn"] = who
        base["userIdentity"] = {
            "type": "SAMLUser",
            "principalId": "x:auditor@larkspur.example",
            "userName": "auditor@larkspur.example",
            "identityProvider": who,
        }
    else:  # an OIDC provider
        provider = who.split(":oidc-provider/", 1)[-1]
        base["eventName"] = "AssumeRoleWithWebIdentity"
        base["userIdentity"] = {
            "type": "WebIdentityUser",
            "principalId": f"{provider}:sts.amazonaws.com:repo:larkspur/shipping-api",
            "userName": "repo:larkspur/shipping-api:ref:refs/heads/main",
            "identityProvider": provider,
        }
    return base


def _key_event(
    account: str,
    user_arn: str,
    user: str,
    key_id: str,
    when: dt.datetime,
    service: str,
    rng: random.Random,
) -> dict[str, Any]:
    source, name = {
        "s3": ("s3.amazonaws.com", "ListBuckets"),
        "athena": ("athena.amazonaws.com", "StartQueryExecution"),
        "sts": ("sts.amazonaws.com", "GetCallerIdentity"),
    }.get(service, (f"{service}.amazonaws.com", "Describe"))
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": f"AIDA{rng.randrange(10**12):012d}",
            "arn": user_arn,
            "accountId": account,
            "accessKeyId": key_id,
            "userName": user,
        },
        "eventTime": _t(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": None,
        "responseElements": None,
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventType": "AwsApiCall",
        "recipientAccountId": account,
    }


def _login_event(
    account: str, user_arn: str, user: str, when: dt.datetime, rng: random.Random
) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": f"AIDA{rng.randrange(10**12):012d}",
            "arn": user_arn,
            "accountId": account,
            "userName": user,
        },
        "eventTime": _t(when),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.5",
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"MFAUsed": "Yes"},
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": account,
    }


def _history(last: dt.datetime, rng: random.Random, n: int) -> list[dt.datetime]:
    """``last`` and ``n - 1`` earlier times within the 60 days before it."""
    return [last] + [last - dt.timedelta(days=rng.uniform(0.5, 60)) for _ in range(n - 1)]


def build_events(account: str, seed: int = 11) -> list[dict[str, Any]]:
    """The trail's events, from the emulated account's IAM state."""
    rng = random.Random(seed)
    be = moto_ext.backend(account)
    events: list[dict[str, Any]] = []
    for role in sorted(be.roles.values(), key=lambda r: r.name):
        if role.last_used is None:
            continue
        for kind, who in _trust_principals(role.assume_role_policy_document):
            for when in _history(role.last_used, rng, rng.randint(3, 12)):
                events.append(_assume_event(account, role.arn, kind, who, when, rng))
    for user in sorted(be.users.values(), key=lambda u: u.name):
        for key in user.access_keys:
            lu = key.last_used
            if lu is None:
                continue
            for when in _history(lu.timestamp, rng, rng.randint(2, 8)):
                if when >= key.create_date:
                    events.append(
                        _key_event(
                            account, user.arn, user.name, key.access_key_id, when, lu.service, rng
                        )
                    )
        if user.password_last_used is not None:
            for when in _history(user.password_last_used, rng, rng.randint(1, 5)):
                events.append(_login_event(account, user.arn, user.name, when, rng))
    return events


def write_trail(emu: Emulator, account: str, bucket: str) -> str:
    """Write the account's trail into ``bucket`` and return the ``s3://`` prefix to read."""
    s3 = emu.client("s3")
    s3.create_bucket(Bucket=bucket)
    by_hour: dict[dt.datetime, list[dict[str, Any]]] = defaultdict(list)
    for event in build_events(account):
        when = dt.datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
        by_hour[when.replace(minute=0, second=0)].append(event)
    for hour, records in sorted(by_hour.items()):
        records.sort(key=lambda e: e["eventTime"])
        key = (
            f"AWSLogs/{account}/CloudTrail/{REGION}/{hour:%Y/%m/%d}/"
            f"{account}_CloudTrail_{REGION}_{hour:%Y%m%dT%H%M}Z_{len(records):04d}demo.json.gz"
        )
        body = gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/AWSLogs/"
