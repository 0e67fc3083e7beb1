"""The evidence bundle: what was read, from which account, when, by which version of dormant,
what could not be read, and a manifest of file hashes.

Layout of a bundle (a directory, or the same tree in a .zip)::

    manifest.json                       SHA-256 of every other file
    snapshot.json                       tool version, creation time, notes, accounts (with their
                                        sources, and the OU path of an organization's account)
    accounts/<account_id>/<source>.json one SourceResult: raw responses, status, errors

It is written atomically (a sibling temporary directory renamed into place), is deterministic
(sorted keys, fixed formatting), and ``read`` refuses a bundle whose files do not match their
manifest. ``dormant analyze`` re-runs the judgement on it with no AWS access.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__
from .errors import SnapshotError
from .sources.base import SourceResult

FORMAT = "dormant-snapshot"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INDEX = "snapshot.json"


@dataclass
class AccountEvidence:
    """Everything read from one account."""

    account_id: str
    account_name: str | None = None
    collected_at: str | None = None
    """When the last source finished, ISO-8601 UTC."""
    scanner_arn: str | None = None
    sources: dict[str, SourceResult] = field(default_factory=dict)
    ou_path: str | None = None
    """Where an organization scan found the account (``Root/Prod/Payments``); None otherwise."""

    def source(self, name: str) -> SourceResult | None:
        return self.sources.get(name)

    def index_entry(self) -> dict[str, Any]:
        """The account's entry in snapshot.json (``ou_path`` only when known, so a bundle
        of one account has the bytes it always had)."""
        entry: dict[str, Any] = {
            "account_id": self.account_id,
            "account_name": self.account_name,
            "collected_at": self.collected_at,
            "scanner_arn": self.scanner_arn,
            "sources": sorted(self.sources),
        }
        if self.ou_path is not None:
            entry["ou_path"] = self.ou_path
        return entry

    def source_files(self) -> dict[str, bytes]:
        """Each source's file in the bundle, by source name."""
        return {name: _dump(res.to_json()) for name, res in self.sources.items()}


@dataclass
class Snapshot:
    created_at: str
    """When collection finished; ``dormant analyze`` judges as of this time by default."""
    accounts: list[AccountEvidence]
    tool_version: str = __version__
    origin: str = "collect"
    """``collect`` for a bundle read from AWS, ``credential-report-file`` for a bare CSV."""
    notes: list[str] = field(default_factory=list)
    """What a reader should know about how this snapshot was made."""
    digest: str | None = None
    """SHA-256 of the manifest, once written or read."""

    def files(self) -> dict[str, bytes]:
        """Every file of the bundle but the manifest, by POSIX path."""
        out: dict[str, bytes] = {}
        index = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool_version": self.tool_version,
            "created_at": self.created_at,
            "origin": self.origin,
            "notes": self.notes,
            "accounts": [
                a.index_entry() for a in sorted(self.accounts, key=lambda a: a.account_id)
            ],
        }
        out[INDEX] = _dump(index)
        for a in self.accounts:
            for name, data in a.source_files().items():
                out[f"accounts/{a.account_id}/{name}.json"] = data
        return out

    def manifest(self) -> tuple[bytes, str]:
        files = self.files()
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "algorithm": "sha256",
            "files": {p: hashlib.sha256(b).hexdigest() for p, b in sorted(files.items())},
        }
        data = _dump(manifest)
        return data, hashlib.sha256(data).hexdigest()


def dump(obj: Any) -> bytes:
    """The bundle's JSON encoding: sorted keys, fixed formatting, UTF-8."""
    return _dump(obj)


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


# ----------------------------------------------------------------------------------- write


def write(snapshot: Snapshot, path: str | Path) -> str:
    """Write the bundle to ``path`` (a directory, or a file ending in .zip) atomically.

    Returns the manifest's SHA-256. An existing bundle at ``path`` is replaced; anything else
    there is left alone and is an error.
    """
    path = Path(path)
    files = snapshot.files()
    manifest, digest = snapshot.manifest()
    files[MANIFEST] = manifest
    if path.suffix.lower() == ".zip":
        _write_zip(files, path)
    else:
        _write_dir(files, path)
    snapshot.digest = digest
    return digest


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_dir(files: dict[str, bytes], path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise SnapshotError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / MANIFEST).is_file():
        raise SnapshotError(
            f"{path}: the directory is not empty and is not a dormant snapshot; "
            "choose a new directory"
        )
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=parent))
    try:
        for rel, data in files.items():
            target = tmp / PurePosixPath(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
        old = None
        if path.exists():
            old = parent / f".{path.name}.{os.getpid()}.old"
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_zip(files: dict[str, bytes], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for rel in sorted(files):
                    # A fixed date keeps the zip's bytes the same for the same evidence.
                    info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, files[rel])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------ read


def is_snapshot(path: str | Path) -> bool:
    p = Path(path)
    if p.is_dir():
        return (p / MANIFEST).is_file()
    if p.is_file() and p.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(p) as zf:
                return MANIFEST in zf.namelist()
        except zipfile.BadZipFile:
            return False
    return False


def _reader(path: Path):
    if path.is_dir():

        def read_dir(rel: str) -> bytes:
            target = path / PurePosixPath(rel)
            try:
                return target.read_bytes()
            except FileNotFoundError:
                raise SnapshotError(f"{target}: missing from the snapshot") from None

        return read_dir, lambda: None
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SnapshotError(f"{path}: not a readable zip file ({exc})") from None

    def read_zip(rel: str) -> bytes:
        try:
            return zf.read(rel)
        except KeyError:
            raise SnapshotError(f"{path}: {rel}: missing from the snapshot") from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise SnapshotError(f"{path}: {rel}: unreadable ({exc})") from None

    return read_zip, zf.close


def _load_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        at = f" at line {line}" if line else ""
        raise SnapshotError(f"{where}: not valid JSON{at} ({exc})") from None


def read(path: str | Path) -> Snapshot:
    """Read and verify a bundle. Raises :class:`SnapshotError` naming the file that is missing,
    unreadable or does not match its manifest hash."""
    path = Path(path)
    if not path.exists():
        raise SnapshotError(f"{path}: no such file or directory")
    if path.is_dir() and not (path / MANIFEST).exists() and (path / "progress.json").exists():
        raise SnapshotError(
            f"{path}: the checkpoint of an interrupted organization scan, not a snapshot; "
            f"continue the scan with --resume {path}"
        )
    read_file, close = _reader(path)
    try:
        manifest_bytes = read_file(MANIFEST)
        manifest = _load_json(manifest_bytes, f"{path}/{MANIFEST}")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SnapshotError(f"{path}/{MANIFEST}: not a dormant snapshot manifest")
        if manifest.get("format_version", 0) > FORMAT_VERSION:
            raise SnapshotError(
                f"{path}: snapshot format {manifest.get('format_version')} is newer than this "
                f"dormant ({__version__}) reads (format {FORMAT_VERSION}); upgrade dormant"
            )
        listed: dict[str, str] = manifest.get("files") or {}
        if INDEX not in listed:
            raise SnapshotError(f"{path}/{MANIFEST}: does not list {INDEX}")
        contents: dict[str, bytes] = {}
        for rel, expected in sorted(listed.items()):
            if ".." in PurePosixPath(rel).parts or rel.startswith("/"):
                raise SnapshotError(f"{path}/{MANIFEST}: unsafe path {rel!r}")
            data = read_file(rel)
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise SnapshotError(
                    f"{path}/{rel}: SHA-256 {actual[:16]}… does not match the manifest "
                    f"({expected[:16]}…): the file was changed after collection"
                )
            contents[rel] = data
    finally:
        close()
    index = _load_json(contents[INDEX], f"{path}/{INDEX}")
    accounts = []
    for a in index.get("accounts") or []:
        acct = AccountEvidence(
            account_id=a["account_id"],
            account_name=a.get("account_name"),
            collected_at=a.get("collected_at"),
            scanner_arn=a.get("scanner_arn"),
            ou_path=a.get("ou_path"),
        )
        for name in a.get("sources") or []:
            rel = f"accounts/{acct.account_id}/{name}.json"
            if rel not in contents:
                raise SnapshotError(f"{path}/{MANIFEST}: does not list {rel}")
            try:
                acct.sources[name] = SourceResult.from_json(
                    _load_json(contents[rel], f"{path}/{rel}")
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise SnapshotError(f"{path}/{rel}: not a source result ({exc})") from None
        accounts.append(acct)
    return Snapshot(
        created_at=index["created_at"],
        accounts=accounts,
        tool_version=index.get("tool_version", "unknown"),
        origin=index.get("origin", "collect"),
        notes=list(index.get("notes") or []),
        digest=hashlib.sha256(manifest_bytes).hexdigest(),
    )
