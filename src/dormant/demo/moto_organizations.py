"""Make moto's Organizations answer reads like AWS for callers that may not make them.

moto 5.2 answers ``ListAccounts`` (and the other reads of the organization's structure) from
the caller's own backend, so a member account or an account outside any organization gets an
empty list. AWS answers ``AccessDeniedException`` ("You don't have permissions to access this
resource.") to a member account that is not a delegated administrator, and
``AWSOrganizationsNotInUseException`` to an account outside any organization; a delegated
administrator reads the organization as the management account does. :func:`install` wraps
those reads of ``OrganizationsResponse`` accordingly, in this process. Under IAM enforcement,
an Organizations call that is not allowed is answered as AWS does, in JSON
(``AccessDeniedException``), where moto answers IAM's XML.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.Lock()
_INSTALLED = False

READS = (
    "list_accounts",
    "list_accounts_for_parent",
    "list_organizational_units_for_parent",
    "list_roots",
    "list_children",
    "list_parents",
    "describe_account",
    "describe_organizational_unit",
)
"""The reads of the organization's structure only its management account and delegated
administrators may make."""

_JSON_AUTH_CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
}
"""moto's enforcement answers every service in IAM's XML; Organizations speaks JSON (1.1), so
its authorization errors are answered in JSON, with the codes a JSON service uses."""


def _authorize(self: Any, resource: str = "*") -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import BaseResponse
    from werkzeug.exceptions import HTTPException

    try:
        BaseResponse._authenticate_and_authorize_normal_action(self, resource)
    except HTTPException as exc:
        code = _JSON_AUTH_CODES.get(getattr(exc, "error_type", ""))
        if code is None:
            raise
        err = JsonRESTError(code, getattr(exc, "message", "") or str(exc))
        err.code = 400  # Organizations' model: AccessDeniedException is HTTP 400
        raise err from None


def _reader(method: Any) -> Any:
    @functools.wraps(method)
    def read(self: Any) -> Any:
        from moto.organizations.exceptions import (
            AWSOrganizationsNotInUseException,
            OrganizationsClientError,
        )
        from moto.organizations.models import organizations_backends

        caller = self.current_account
        if organizations_backends[caller][self.partition].org is None:
            management = organizations_backends.master_accounts.get(caller)
            if management is None:
                raise AWSOrganizationsNotInUseException()
            admins = organizations_backends[management[0]][self.partition].admins
            if not any(admin.account.id == caller for admin in admins):
                raise OrganizationsClientError(
                    "AccessDeniedException", "You don't have permissions to access this resource."
                )
            # A delegated administrator reads the management account's organization.
            self.current_account = management[0]
        return method(self)

    return read


def install() -> None:
    """Wrap the reads once per process. Idempotent."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        from moto.organizations.responses import OrganizationsResponse

        for name in READS:
            setattr(OrganizationsResponse, name, _reader(getattr(OrganizationsResponse, name)))
        OrganizationsResponse._authenticate_and_authorize_normal_action = _authorize
        _INSTALLED = True
