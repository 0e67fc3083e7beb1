"""CloudTrail event names to IAM actions, from ``dormant/data/cloudtrail_iam_actions.json``.

Most events are authorised by the IAM action of the same name in the service's prefix
(``iam.amazonaws.com`` ``GetUser`` is ``iam:GetUser``). The data file lists where they differ: a
service prefix unlike the endpoint (``monitoring.amazonaws.com`` is ``cloudwatch``), an API
version suffix on the event name (Lambda's ``GetFunction20150331v2``), and operations
authorised by another action (S3 ``ListObjects`` needs ``s3:ListBucket``). Its ``about`` field
says where the data comes from. Standard library only.
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any


@cache
def mapping() -> dict[str, Any]:
    """The data file, parsed."""
    text = resources.files("dormant").joinpath("data", "cloudtrail_iam_actions.json").read_text()
    return json.loads(text)


@cache
def _suffixes() -> dict[str, re.Pattern[str]]:
    return {src: re.compile(rx) for src, rx in mapping()["event_name_suffixes"].items()}


def service_prefix(event_source: str) -> str:
    """The IAM service prefix of a CloudTrail ``eventSource``."""
    known = mapping()["service_prefixes"].get(event_source)
    if known:
        return known
    return event_source.split(".", 1)[0]


@lru_cache(maxsize=65536)
def iam_action(event_source: str, event_name: str) -> str | None:
    """The IAM action that authorises a CloudTrail event, or None where none does."""
    data = mapping()
    if event_source in data["sources_without_iam_actions"]:
        return None
    suffix = _suffixes().get(event_source)
    name = suffix.sub("", event_name) if suffix is not None else event_name
    special = data["actions"].get(event_source, {})
    if name in special:
        return special[name]
    return f"{service_prefix(event_source)}:{name}"
