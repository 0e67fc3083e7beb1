"""Shared fixtures: an emulated AWS (moto's ThreadedMotoServer on 127.0.0.1, with dormant's
AWS-faithful patches), reset before every test that uses it, and paths to the shared real data.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# Never let a test reach a real AWS account through the developer's environment.
for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ.pop("AWS_ENDPOINT_URL", None)

# Never let a test write the real history database (~/.local/share/dormant/history.db): every
# run a test makes is recorded in a throwaway directory of this test process (each xdist
# worker has its own), and the CLI subprocesses inherit it.
_HISTORY_DIR = tempfile.mkdtemp(prefix="dormant-test-history-")
atexit.register(shutil.rmtree, _HISTORY_DIR, ignore_errors=True)
os.environ["DORMANT_HISTORY"] = os.path.join(_HISTORY_DIR, "history.db")
os.environ["XDG_DATA_HOME"] = _HISTORY_DIR
# An organization scan without --snapshot keeps its checkpoint in the user's cache directory.
os.environ["XDG_CACHE_HOME"] = _HISTORY_DIR


@pytest.fixture(scope="session")
def _emulator_server():
    from dormant.demo import server

    emu = server.start()
    yield emu
    emu.stop()


@pytest.fixture
def emulator(_emulator_server):
    """A clean emulated AWS for one test."""
    _emulator_server.reset()
    _emulator_server.set_auth(None)
    yield _emulator_server
    _emulator_server.set_auth(None)
    _emulator_server.reset()


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared real AWS data is missing at {SHARED_DATA}")
    return SHARED_DATA
