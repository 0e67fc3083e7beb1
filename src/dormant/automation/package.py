"""The Lambda deployment zip, built reproducibly.

The zip holds the ``dormant`` package (without the demo and its emulator) and its runtime
dependencies other than boto3 and its own (botocore, s3transfer, jmespath, python-dateutil,
six, urllib3), which the Lambda Python runtime provides. Dependencies are installed by pip for
the Lambda platform (``--platform manylinux2014_x86_64`` or ``manylinux2014_aarch64``,
``--only-binary=:all:``, ``--python-version 3.12``, ``--implementation cp``), whatever the
machine that builds it.

Reproducible: entries sorted, every timestamp fixed at 1980-01-01, the same permissions,
no bytecode, no console scripts (their first line names the builder's Python) and no RECORD
files (they list those scripts), so two builds from the same sources and the same dependency
versions give the same bytes. The versions are whatever the index serves at build time: the
build prints them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import DormantError

PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
"""Lambda architecture -> the pip platform whose wheels run there."""

PROVIDED_BY_LAMBDA = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
"""What the Lambda Python runtime already has: not packaged."""

HANDLER = "dormant.aws_lambda.handler"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16
"""A regular file, rw-r--r--, in the zip's Unix attributes."""

_EXCLUDED_PACKAGE = ("demo/", "data/template.yaml")
"""Inside dormant: the emulated demo (needs moto) and the deployment template."""


class PackageError(DormantError):
    """The zip could not be built; says which step failed and why."""


@dataclass(frozen=True)
class Package:
    """A built deployment zip."""

    path: Path
    sha256: str
    """Of the zip's bytes."""
    size: int
    """Bytes."""
    files: int
    dependencies: tuple[str, ...]
    """``name==version`` of each packaged distribution, dormant included."""


def requirements(dist: str = "dormant") -> list[str]:
    """The runtime requirements of ``dist`` that Lambda does not provide (no extras)."""
    out = []
    for req in importlib.metadata.requires(dist) or []:
        spec, _, marker = req.partition(";")
        if "extra" in marker:
            continue
        name = re.match(r"[A-Za-z0-9_.-]+", spec.strip())
        if name and _normal(name.group(0)) not in PROVIDED_BY_LAMBDA:
            out.append(req.strip())
    return out


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_command(target: Path, reqs: Sequence[str], *, arch: str, python_version: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        PLATFORMS[arch],
        "--only-binary=:all:",
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        *reqs,
    ]


def install_dependencies(
    target: Path,
    *,
    arch: str,
    python_version: str,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> None:
    reqs = requirements()
    if not reqs:
        return
    proc = run(
        pip_command(target, reqs, arch=arch, python_version=python_version),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        tail = "; ".join(lines[-3:]) or f"exit code {proc.returncode}"
        raise PackageError(f"pip could not install the dependencies for Lambda: {tail}")


def copy_package(target: Path) -> None:
    """The installed dormant package's files (sources and package data)."""
    import dormant

    root = Path(dormant.__file__).resolve().parent
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() or _excluded(rel) or rel.startswith(_EXCLUDED_PACKAGE):
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        dest = target / "dormant" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(path.read_bytes())


def _excluded(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    if "__pycache__" in parts or (parts and parts[0] == "bin"):
        return True
    if parts and parts[0].endswith(".dist-info") and parts[-1] in ("RECORD", "direct_url.json"):
        return True
    return rel.endswith((".pyc", ".pyo"))


def write_zip(source: Path, out: Path) -> tuple[str, int, int]:
    """Zip ``source`` reproducibly into ``out``; (sha256, size, files)."""
    entries = sorted(
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and not _excluded(p.relative_to(source).as_posix())
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for rel in entries:
            info = zipfile.ZipInfo(rel, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = FILE_MODE
            zf.writestr(info, (source / rel).read_bytes(), compresslevel=9)
    tmp.replace(out)
    data = out.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data), len(entries)


def _distributions(staging: Path) -> tuple[str, ...]:
    import dormant

    found = [f"dormant=={dormant.__version__}"]
    for info in sorted(staging.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found.append(f"{name}=={version}")
    return tuple(found)


def build(
    out: Path,
    *,
    arch: str = "x86_64",
    python_version: str = "3.12",
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> Package:
    """Build the zip at ``out``."""
    if arch not in PLATFORMS:
        raise PackageError(f"--arch: expected one of {', '.join(PLATFORMS)}, got {arch!r}")
    with tempfile.TemporaryDirectory(prefix="dormant-lambda-") as tmp:
        staging = Path(tmp) / "zip"
        staging.mkdir()
        install_dependencies(staging, arch=arch, python_version=python_version, run=run)
        copy_package(staging)
        deps = _distributions(staging)
        sha, size, files = write_zip(staging, out)
    return Package(path=out, sha256=sha, size=size, files=files, dependencies=deps)
