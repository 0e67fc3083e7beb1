"""An emulated AWS on 127.0.0.1: moto's ThreadedMotoServer in this process, with dormant's
AWS-faithful patches installed (:mod:`.moto_ext`), the Access Advisor job APIs
(:mod:`.moto_access_advisor`) and the Access Analyzer read APIs (:mod:`.moto_access_analyzer`),
reached over real HTTP through boto3."""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from . import (
    faults,
    moto_access_advisor,
    moto_access_analyzer,
    moto_ext,
    moto_organizations,
    moto_securityhub,
)

DEFAULT_ACCOUNT = "123456789012"
"""moto's default account: credentials it does not know map to it and record no last use."""

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class Emulator:
    endpoint_url: str
    server: Any
    _session: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(
        self, service: str, region: str = "us-east-1", account_id: str | None = None, **creds: str
    ) -> Any:
        """A new client of the emulator; ``account_id`` sends its calls to that account (moto's
        ``x-moto-account-id`` header), as the support code does to seed member accounts.

        Clients come from one boto3 session, so botocore loads each service model once rather
        than once per client; the credentials are the client's own."""
        with self._lock:
            if self._session is None:
                self._session = boto3.session.Session(region_name=region)
            client = self._session.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                **(creds or FAKE_CREDENTIALS),
            )
        if account_id and account_id != DEFAULT_ACCOUNT:

            def to_account(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = account_id

            client.meta.events.register("before-sign", to_account)
        return client

    def reset(self) -> None:
        """Forget every resource in every account (moto's reset), and dormant's patches' state."""
        import requests

        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=30)
        moto_ext.reset()
        moto_access_advisor.reset()
        moto_access_analyzer.reset()
        faults.reset()

    def set_auth(self, initial_no_auth_actions: int | None) -> None:
        """Turn IAM enforcement on after ``n`` more unauthenticated calls, or off with None."""
        import requests

        value = "inf" if initial_no_auth_actions is None else str(initial_no_auth_actions)
        resp = requests.post(
            f"{self.endpoint_url}/moto-api/reset-auth", data=value.encode(), timeout=30
        )
        resp.raise_for_status()

    def stop(self) -> None:
        self.server.stop()


def _quiet() -> None:
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)


def start(port: int = 0) -> Emulator:
    """Start moto on 127.0.0.1 (a free port unless given) and return its endpoint."""
    from moto.server import ThreadedMotoServer

    _quiet()
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    moto_ext.install()
    moto_securityhub.install()
    moto_access_advisor.install()
    moto_access_analyzer.install()
    moto_organizations.install()
    faults.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return Emulator(endpoint_url=f"http://{host}:{bound}", server=server)


@contextmanager
def running(port: int = 0):
    emu = start(port)
    try:
        yield emu
    finally:
        emu.stop()
