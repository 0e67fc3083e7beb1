"""The error guard every ``dormant`` command shares: a failure is one line on stderr and exit 2
(130 on Ctrl-C); the traceback only with ``--debug``."""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any

import click

from .errors import DormantError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def handle_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except DormantError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"dormant: error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("dormant: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 2
            if debug:
                traceback.print_exc()
            first = str(exc).splitlines()[0] if str(exc) else ""
            click.echo(
                f"dormant: error: {type(exc).__name__}: {first} (run with --debug for details)",
                err=True,
            )
            ctx.exit(EXIT_ERROR)

    return wrapper
