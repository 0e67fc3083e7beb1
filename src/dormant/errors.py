"""Errors that dormant reports to a person as one line, without a traceback."""

from __future__ import annotations


class DormantError(Exception):
    """An error with a message fit for the user: what was wrong and where. Exit code 2."""


class InputError(DormantError):
    """Bad input: a malformed file, a bad option. The message names the file and the line or
    field, and says what was expected."""


class SnapshotError(InputError):
    """An unreadable, incomplete or tampered evidence bundle."""
