"""The checkpoint of an organization scan: each account's evidence saved as soon as the account
is done, so an interrupted scan (Ctrl-C, a crash, a Lambda timeout) continues where it stopped.

Layout (the snapshot bundle's, plus an index)::

    progress.json                        format, the scan's settings, where the snapshot goes
    accounts/<account_id>/<source>.json  one SourceResult, as in a snapshot bundle
    accounts/<account_id>/_meta.json     the account's entry and the SHA-256 of each file

An account is written into ``accounts/.<account_id>.<random>.partial`` (every file fsynced),
then renamed to ``accounts/<account_id>`` in one step: a crash mid-write leaves only a
``.partial`` directory, which is never read as done and is removed on resume. On resume an
account counts as done only if its ``_meta.json`` is readable and every file matches its hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import __version__
from .errors import DormantError
from .snapshot import AccountEvidence, _fsync_dir, dump
from .sources.base import SourceResult

FORMAT = "dormant-org-checkpoint"
FORMAT_VERSION = 1
INDEX = "progress.json"
META = "_meta.json"
ACCOUNTS = "accounts"


def is_checkpoint(path: str | Path) -> bool:
    return (Path(path) / INDEX).is_file()


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class Checkpoint:
    """A checkpoint directory: create one, or open one to resume."""

    def __init__(self, path: Path, index: dict[str, Any]) -> None:
        self.path = path
        self.index = index

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.index.get("settings") or {})

    @property
    def target(self) -> str | None:
        """Where the finished snapshot was to be written, as the first run was told."""
        return self.index.get("target")

    # ---------------------------------------------------------------------- create, open

    @classmethod
    def create(
        cls, path: str | Path, settings: dict[str, Any], target: str | None = None
    ) -> Checkpoint:
        """A new, empty checkpoint. Refuses a directory that already holds one (resume it, or
        remove it) or anything else."""
        path = Path(path)
        if is_checkpoint(path):
            raise DormantError(
                f"{path}: holds an interrupted organization scan; continue it with --resume "
                f"{path}, or remove the directory to start again"
            )
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise DormantError(
                f"{path}: exists and is not empty; the organization scan's checkpoint needs "
                "a new directory"
            )
        try:
            (path / ACCOUNTS).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DormantError(f"{path}: cannot create the checkpoint ({exc.strerror})") from None
        index = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool_version": __version__,
            "settings": settings,
            "target": target,
        }
        _write_atomic(path / INDEX, dump(index))
        return cls(path, index)

    @classmethod
    def open(cls, path: str | Path) -> Checkpoint:
        """An existing checkpoint, to resume; removes what a crash left half-written."""
        path = Path(path)
        if not path.exists():
            raise DormantError(f"--resume {path}: no such directory")
        if not is_checkpoint(path):
            hint = (
                " (it is a finished snapshot: nothing to resume)"
                if (path / "manifest.json").is_file()
                else ""
            )
            raise DormantError(
                f"--resume {path}: not the checkpoint of an organization scan (no {INDEX}){hint}"
            )
        try:
            index = json.loads((path / INDEX).read_bytes())
        except (OSError, ValueError) as exc:
            raise DormantError(f"{path / INDEX}: unreadable ({exc})") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise DormantError(f"{path / INDEX}: not an organization scan checkpoint")
        if int(index.get("format_version") or 0) > FORMAT_VERSION:
            raise DormantError(
                f"{path}: checkpoint format {index.get('format_version')} is newer than this "
                f"dormant ({__version__}) reads; resume it with the version that wrote it"
            )
        accounts = path / ACCOUNTS
        accounts.mkdir(exist_ok=True)
        for child in accounts.iterdir():
            if child.name.startswith("."):
                shutil.rmtree(child, ignore_errors=True)
        return cls(path, index)

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Refuse to mix evidence collected with other settings into one snapshot."""
        saved = self.settings
        differ = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
        if differ:
            raise DormantError(
                f"--resume {self.path}: the interrupted scan was made with other settings "
                f"({', '.join(differ)}: {', '.join(_show(saved.get(k)) for k in differ)} then, "
                f"{', '.join(_show(settings.get(k)) for k in differ)} now); resume with the same "
                "options, or start a new scan"
            )

    # -------------------------------------------------------------------- save and load

    def save(self, evidence: AccountEvidence) -> None:
        """Save one account's evidence, atomically: after this returns, it is done."""
        accounts = self.path / ACCOUNTS
        files = {f"{name}.json": data for name, data in evidence.source_files().items()}
        meta = {
            "entry": evidence.index_entry(),
            "files": {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(files.items())},
        }
        files[META] = dump(meta)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{evidence.account_id}.", suffix=".partial", dir=accounts)
        )
        try:
            for rel, data in files.items():
                _write_file(tmp / rel, data)
            _fsync_dir(tmp)
            final = accounts / evidence.account_id
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            _fsync_dir(accounts)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def saved_ids(self) -> list[str]:
        accounts = self.path / ACCOUNTS
        if not accounts.is_dir():
            return []
        return sorted(
            c.name for c in accounts.iterdir() if not c.name.startswith(".") and c.is_dir()
        )

    def load(self, account_id: str) -> AccountEvidence | None:
        """The saved evidence of one account, or None when it is not (entirely) saved."""
        folder = self.path / ACCOUNTS / account_id
        try:
            meta = json.loads((folder / META).read_bytes())
            entry = meta["entry"]
            if entry["account_id"] != account_id:
                return None
            sources: dict[str, SourceResult] = {}
            for name in entry.get("sources") or []:
                rel = f"{name}.json"
                data = (folder / rel).read_bytes()
                if hashlib.sha256(data).hexdigest() != meta["files"].get(rel):
                    return None
                sources[name] = SourceResult.from_json(json.loads(data))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return AccountEvidence(
            account_id=account_id,
            account_name=entry.get("account_name"),
            collected_at=entry.get("collected_at"),
            scanner_arn=entry.get("scanner_arn"),
            sources=sources,
            ou_path=entry.get("ou_path"),
        )

    def load_all(self, account_ids: set[str] | None = None) -> dict[str, AccountEvidence]:
        """Every account saved entirely (of ``account_ids``, when given)."""
        out: dict[str, AccountEvidence] = {}
        for account_id in self.saved_ids():
            if account_ids is not None and account_id not in account_ids:
                continue
            evidence = self.load(account_id)
            if evidence is not None:
                out[account_id] = evidence
        return out

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
