"""Run dormant's Step Functions state machine in the emulator, its Lambda steps in-process.

moto 5.2 can execute a state machine (``execute_state_machine``: the Amazon States Language
interpreter it ports from LocalStack, Distributed Map, S3 ItemReader and ResultWriter
included), but it cannot run a Lambda function without Docker, and its CloudFormation creates a
state machine from ``DefinitionString`` only. This module closes both gaps, in this process
(``ThreadedMotoServer`` or decorator mode):

- :func:`install` makes moto's Lambda ``Invoke`` run a function whose handler is one of
  ``dormant.aws_lambda``'s in this process, with the function's environment variables, its
  Region in ``AWS_REGION`` and a context whose remaining time counts down from the function's
  timeout, and answer as Lambda does: the handler's JSON result, or, when it raises, an
  ``Unhandled`` function error whose payload names the exception (``errorType``), which is what
  a state machine's ``Retry`` and ``Catch`` match. Other functions are left to moto.
- It makes CloudFormation's ``AWS::StepFunctions::StateMachine`` honour ``Definition`` (an
  object) and ``DefinitionSubstitutions`` as AWS does (each ``${name}`` replaced in the
  definition's strings), in the backend that moto's API answers from, so the machine a stack
  creates is the one that executions run.
- :func:`executing` turns execution on for a block (off again after it; it is a process-wide
  moto setting) and points moto's interpreter, which calls the services over HTTP to
  ``localhost:$MOTO_PORT``, at the emulator's port.

The interpreter's grammar reads ``ToleratedFailurePercentage`` only as a decimal number (``10.0``;
AWS and cfn-lint take ``10``) and it ignores the value; :func:`installable_definition` writes
whole numbers there with a decimal point for it.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HANDLER_PREFIX = "dormant.aws_lambda."

_lock = threading.Lock()
_installed = False


class _Context:
    """What Lambda passes a handler: names, a request id and the time left."""

    def __init__(self, function: Any) -> None:
        import uuid

        self.function_name = function.function_name
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = function.function_arn
        self._deadline = time.monotonic() + float(function.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _run_handler(function: Any, body: Any, response_headers: Any) -> bytes:
    module_name, _, name = str(function.handler).rpartition(".")
    handler = getattr(importlib.import_module(module_name), name)
    event = json.loads(body) if body else {}
    # Lambda's environment holds strings (moto's CloudFormation keeps a Number parameter's int).
    variables = {k: str(v) for k, v in (function.environment_vars or {}).items()}
    env = {**os.environ, **variables, "AWS_REGION": function.region}
    try:
        result = handler(event, _Context(function), env=env)
    except Exception as exc:  # noqa: BLE001 - Lambda reports every exception as the payload
        response_headers["x-amz-function-error"] = "Unhandled"
        error = {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": []}
        return json.dumps(error).encode()
    return json.dumps(result).encode()


def _substitute(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values) for v in node]
    if isinstance(node, str):
        for key, value in values.items():
            node = node.replace("${" + key + "}", str(value))
    return node


def installable_definition(properties: dict[str, Any]) -> str:
    """The definition a stack's state machine gets, as AWS makes it from ``Definition`` or
    ``DefinitionString`` and ``DefinitionSubstitutions`` (with the interpreter's decimal
    ``ToleratedFailurePercentage``)."""
    values = properties.get("DefinitionSubstitutions") or {}
    if "Definition" in properties:
        definition = _substitute(properties["Definition"], values)
    else:
        definition = json.loads(_substitute(properties.get("DefinitionString") or "{}", values))

    def decimal(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: decimal(v) for k, v in node.items()}
            value = out.get("ToleratedFailurePercentage")
            if isinstance(value, int | str) and str(value).isdigit():
                out["ToleratedFailurePercentage"] = float(value)
            return out
        if isinstance(node, list):
            return [decimal(v) for v in node]
        return node

    return json.dumps(decimal(definition))


def install() -> None:
    """Patch moto (idempotent); nothing changes until a function with a dormant handler is
    invoked or a stack creates a state machine."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.awslambda.models import LambdaFunction
        from moto.stepfunctions.models import StateMachine
        from moto.stepfunctions.responses import get_backend
        from moto.stepfunctions.utils import cfn_to_api_tags

        original_invoke = LambdaFunction.invoke

        def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
            if str(self.handler or "").startswith(HANDLER_PREFIX):
                return _run_handler(self, body, response_headers)
            return original_invoke(self, body, request_headers, response_headers)

        def create(
            cls: type,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            properties = cloudformation_json["Properties"]
            name = properties.get("StateMachineName", resource_name)
            return get_backend(account_id, region_name).create_state_machine(
                name,
                installable_definition(properties),
                properties.get("RoleArn", ""),
                tags=cfn_to_api_tags(properties.get("Tags", [])),
            )

        def delete(
            cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region: str
        ) -> None:
            get_backend(account_id, region).delete_state_machine(resource_name)

        LambdaFunction.invoke = invoke
        StateMachine.create_from_cloudformation_json = classmethod(create)
        StateMachine.delete_from_cloudformation_json = classmethod(delete)
        _installed = True


@contextmanager
def executing(endpoint_url: str) -> Iterator[None]:
    """State machines created and started in this block run their definitions."""
    from moto.core.config import default_user_config

    install()
    port = endpoint_url.rstrip("/").rsplit(":", 1)[1]
    config = default_user_config.setdefault("stepfunctions", {})
    before_config = config.get("execute_state_machine")
    before_port = os.environ.get("MOTO_PORT")
    config["execute_state_machine"] = True
    os.environ["MOTO_PORT"] = port
    try:
        yield
    finally:
        config["execute_state_machine"] = bool(before_config)
        if before_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = before_port
