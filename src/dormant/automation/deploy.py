"""``dormant lambda deploy``: upload the zip and create or update the CloudFormation stack.

With the user's own credentials (the standard chain, as ``dormant scan``): the zip goes to the
code bucket under its SHA-256 (``dormant-lambda/<sha256>.zip``), so a new build changes the
function's code and the same build changes nothing; the stack is created, or updated with the
parameters it had for those not given again, and awaited. "No updates are to be performed" is
not an error. A failure names the resources that failed and why.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import botocore.exceptions

from .. import __version__
from ..errors import DormantError
from ..sources.aws import AccountSession, error_code, error_message

CODE_PREFIX = "dormant-lambda/"
CODE_PARAMETERS = ("CodeBucket", "CodeKey")
"""Set by the deploy command, never by the user."""
MAX_TEMPLATE_BODY = 51_200
"""CloudFormation's limit for a template passed inline."""


class DeployError(DormantError):
    """The deployment could not be done; says why and what to do."""


@dataclass(frozen=True)
class DeployResult:
    """What a deployment did."""

    stack_name: str
    action: str
    """``created``, ``updated`` or ``unchanged``."""
    status: str
    """The stack's status at the end."""
    code_uri: str
    """Where the zip is: ``s3://bucket/dormant-lambda/<sha256>.zip``."""
    outputs: dict[str, str] = field(default_factory=dict)


def template_text() -> str:
    """The template shipped with dormant (deploy/template.yaml in the repository)."""
    return (resources.files("dormant") / "data" / "template.yaml").read_text(encoding="utf-8")


def declared_parameters(body: str) -> dict[str, str | None]:
    """The parameters a template declares, with their defaults (None when it has none), read
    from its text (JSON, or block-style YAML)."""
    text = body.lstrip()
    if text.startswith("{"):
        try:
            params = json.loads(text).get("Parameters") or {}
        except (json.JSONDecodeError, AttributeError):
            return {}
        return {k: None if "Default" not in v else str(v["Default"]) for k, v in params.items()}
    found: dict[str, str | None] = {}
    inside, current = False, None
    for line in body.splitlines():
        if re.match(r"^Parameters:\s*(#.*)?$", line):
            inside = True
            continue
        if not inside:
            continue
        if re.match(r"^\S", line):
            break
        name = re.match(r"^  ([A-Za-z0-9]+):", line)
        if name:
            current = name.group(1)
            found[current] = None
            continue
        default = re.match(r"^    Default:\s*(.*?)\s*$", line)
        if default and current:
            value = default.group(1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            found[current] = value
    return found


def parse_parameters(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``K=V`` strings to a dict; a clear error for anything else."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DeployError(f"--parameter {item!r}: expected Key=Value")
        key = key.strip()
        if key in CODE_PARAMETERS:
            raise DeployError(f"--parameter {key}: set by the deploy command itself")
        out[key] = value
    return out


def upload_code(s3: Any, bucket: str, zip_path: Path) -> str:
    """Upload the zip under its SHA-256 unless it is there already; its key."""
    try:
        data = zip_path.read_bytes()
    except OSError as exc:
        raise DeployError(
            f"{zip_path}: cannot read the deployment zip ({exc.strerror}); "
            "build it with: dormant lambda package"
        ) from None
    key = f"{CODE_PREFIX}{hashlib.sha256(data).hexdigest()}.zip"
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return key
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise DeployError(f"s3://{bucket}: {error_message(exc)}") from None
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/zip")
    except botocore.exceptions.ClientError as exc:
        hint = ""
        if error_code(exc) == "NoSuchBucket":
            hint = f"; create it first (aws s3 mb s3://{bucket}) in the stack's Region"
        raise DeployError(
            f"s3://{bucket}: cannot upload the zip: {error_message(exc)}{hint}"
        ) from None
    return key


def _stack(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in error_message(exc):
            return None
        raise DeployError(f"stack {name}: {error_message(exc)}") from None
    return stacks[0] if stacks else None


def _failures(cfn: Any, name: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except botocore.exceptions.ClientError:
        return ""
    reasons = [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED") and e.get("ResourceStatusReason")
    ]
    return "; ".join(reversed(reasons[:5]))


def _wait(cfn: Any, waiter: str, name: str, delay: int) -> None:
    try:
        cfn.get_waiter(waiter).wait(
            StackName=name, WaiterConfig={"Delay": delay, "MaxAttempts": max(1, 3600 // delay)}
        )
    except botocore.exceptions.WaiterError as exc:
        why = _failures(cfn, name)
        raise DeployError(
            f"stack {name}: {exc.last_response.get('Stacks', [{}])[0].get('StackStatus', exc)}"
            + (f": {why}" if why else "")
        ) from None


def deploy(
    session: AccountSession,
    *,
    stack_name: str,
    code_bucket: str,
    zip_path: Path,
    parameters: Mapping[str, str],
    template: str | None = None,
    echo: Callable[[str], None] = lambda _: None,
    wait_delay: int = 5,
) -> DeployResult:
    """Upload the zip, then create or update the stack and wait for it."""
    body = template if template is not None else template_text()
    if len(body.encode()) > MAX_TEMPLATE_BODY:
        raise DeployError(f"the template is over CloudFormation's {MAX_TEMPLATE_BODY} bytes")
    cfn = session.client("cloudformation")
    try:
        validated = cfn.validate_template(TemplateBody=body)
    except botocore.exceptions.ClientError as exc:
        raise DeployError(f"the template is not valid: {error_message(exc)}") from None
    defaults = declared_parameters(body)
    declared = {p["ParameterKey"] for p in validated.get("Parameters") or []} | set(defaults)
    unknown = sorted(set(parameters) - declared) if declared else []
    if unknown:
        raise DeployError(
            f"--parameter {', '.join(unknown)}: not a parameter of the template; it takes "
            + ", ".join(sorted(declared - set(CODE_PARAMETERS)))
        )

    key = upload_code(session.client("s3"), code_bucket, zip_path)
    code_uri = f"s3://{code_bucket}/{key}"
    echo(f"code: {code_uri}")
    given = {**parameters, "CodeBucket": code_bucket, "CodeKey": key}
    existing = _stack(cfn, stack_name)
    common = {
        "StackName": stack_name,
        "TemplateBody": body,
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "dormant:version", "Value": __version__}],
    }
    if existing is not None:
        status = existing["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            raise DeployError(f"stack {stack_name} is {status}: wait for it, then deploy again")
        if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
            raise DeployError(
                f"stack {stack_name} is {status} (its creation failed) and cannot be updated: "
                f"delete it (aws cloudformation delete-stack --stack-name {stack_name}) and "
                "deploy again"
            )
        # A parameter not given again keeps its previous value, as `aws cloudformation deploy`
        # does.
        previous = {p["ParameterKey"] for p in existing.get("Parameters") or []}
        keep = (previous & declared) if declared else previous
        params = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())]
        params += [{"ParameterKey": k, "UsePreviousValue": True} for k in sorted(keep - set(given))]
        echo(f"updating stack {stack_name}")
        try:
            cfn.update_stack(Parameters=params, **common)
        except botocore.exceptions.ClientError as exc:
            if "No updates are to be performed" in error_message(exc):
                echo(f"stack {stack_name}: no changes")
                return DeployResult(
                    stack_name, "unchanged", status, code_uri, _outputs(cfn, stack_name)
                )
            raise DeployError(f"stack {stack_name}: {error_message(exc)}") from None
        _wait(cfn, "stack_update_complete", stack_name, wait_delay)
        action = "updated"
    else:
        params = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())]
        echo(f"creating stack {stack_name}")
        try:
            cfn.create_stack(Parameters=params, **common)
        except botocore.exceptions.ClientError as exc:
            raise DeployError(f"stack {stack_name}: {error_message(exc)}") from None
        _wait(cfn, "stack_create_complete", stack_name, wait_delay)
        action = "created"
    final = _stack(cfn, stack_name) or {}
    return DeployResult(
        stack_name,
        action,
        final.get("StackStatus", "UNKNOWN"),
        code_uri,
        _outputs(cfn, stack_name),
    )


def _outputs(cfn: Any, name: str) -> dict[str, str]:
    stack = _stack(cfn, name) or {}
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
