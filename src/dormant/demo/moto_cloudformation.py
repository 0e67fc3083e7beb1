"""Make moto's CloudFormation update a stack as AWS does, where ``dormant lambda deploy``
depends on it.

- moto 5.2 has no update for ``AWS::Logs::LogGroup``: a stack update that touches one (a
  changed parameter it references) drops it from the stack, and the next reference to it fails
  with "Fn::GetAtt references undefined resource". AWS updates a log group in place.
- ``UsePreviousValue`` fails (HTTP 500, KeyError) for a parameter that took its default when
  the stack was created; AWS reuses the value the stack has, default or not.
- A role's inline ``Policies`` are stored as Python objects, so GetRolePolicy answers their
  ``str()`` rather than the JSON document AWS returns.
- An update ignores the ``Condition`` of a resource it modifies: a changed parameter that a
  resource under a false condition references makes moto update that never-created resource,
  and fail on its references ("Fn::GetAtt references undefined resource"). AWS leaves such a
  resource alone, creates it when its condition turns true and deletes it when it turns false.

:func:`install` fixes both, in-process, at any time before the stack is updated; it is
idempotent. It is not part of :func:`dormant.demo.server.start`, because importing moto's
CloudFormation (every service's models) costs seconds that the demo does not need.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.models import CloudFormationBackend
from moto.iam.models import Role
from moto.logs.models import LogGroup

_lock = threading.Lock()
_installed = False


def _update_log_group(
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    props = cloudformation_json.get("Properties", {})
    days = props.get("RetentionInDays")
    original_resource.retention_in_days = int(days) if days not in (None, "") else None
    return original_resource


def _resolve_update_parameters(self: Any, instance: Any, incoming_params: list) -> dict:
    resolved = getattr(instance, "stack_parameters", None) or {}
    out: dict[str, Any] = {}
    for param in incoming_params:
        key = param["ParameterKey"]
        if "ParameterValue" in param:
            out[key] = param["ParameterValue"]
        elif param.get("UsePreviousValue"):
            if key in instance.parameters:
                out[key] = instance.parameters[key]
            else:
                value = resolved[key]
                out[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return out


_original_update = parsing.parse_and_update_resource
_original_create_role = Role.create_from_cloudformation_json.__func__


def _create_role(
    cls: type,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    props = dict(cloudformation_json.get("Properties") or {})
    props["Policies"] = [
        {
            **p,
            "PolicyDocument": p["PolicyDocument"]
            if isinstance(p["PolicyDocument"], str)
            else json.dumps(p["PolicyDocument"]),
        }
        for p in props.get("Policies") or []
    ]
    template = {**cloudformation_json, "Properties": props}
    return _original_create_role(cls, resource_name, template, account_id, region_name, **kwargs)


def _update_honouring_condition(
    logical_id: str,
    resource_json: dict[str, Any],
    resources_map: Any,
    account_id: str,
    region_name: str,
) -> Any:
    condition = resource_json.get("Condition")
    wanted = not condition or resources_map.lazy_condition_map[condition]
    existing = resources_map._parsed_resources.get(logical_id)
    if not wanted:
        if existing is not None:
            resources_map._delete_resource(existing, resource_json)
        return None
    if existing is None:
        return parsing.parse_and_create_resource(
            logical_id, resource_json, resources_map, account_id, region_name
        )
    return _original_update(logical_id, resource_json, resources_map, account_id, region_name)


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        LogGroup.update_from_cloudformation_json = classmethod(_update_log_group)
        CloudFormationBackend._resolve_update_parameters = _resolve_update_parameters
        parsing.parse_and_update_resource = _update_honouring_condition
        Role.create_from_cloudformation_json = classmethod(_create_role)
        _installed = True
