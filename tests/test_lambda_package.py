"""The deployment zip: `dormant lambda package` builds it reproducibly (needs the package
index, as CI has), it holds dormant and its dependencies but not boto3 (Lambda provides it) nor
the demo, and the handler imported from it alone, plus boto3, scans the emulated account in a
clean virtual environment.

The build targets this interpreter's Python version (the tests' machine has no 3.12), for the
same Linux platform as Lambda's; everything else is what `dormant lambda package` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from lambda_support import BUCKET, setup

import dormant

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
"""What the Lambda Python runtime has besides the standard library."""


def _package(out: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "dormant.cli", "lambda", "package", "--out", str(out)]
        + ["--python-version", PY],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _runtime(tmp: Path) -> Path:
    """A directory holding only boto3 and its dependencies, as Lambda's runtime has them."""
    runtime = tmp / "runtime"
    runtime.mkdir()
    for name in PROVIDED:
        mod = __import__(name)
        path = Path(mod.__file__)
        src = path.parent if path.name == "__init__.py" else path
        (runtime / src.name).symlink_to(src)
    return runtime


SCRIPT = """
import importlib.util, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
for absent in ("moto", "dormant.demo", "pytest"):
    assert importlib.util.find_spec(absent) is None, absent
from dormant.aws_lambda import handler
# The organization scan's steps (the fan-out's handlers) import from the zip alone too.
from dormant.aws_lambda import org_account_handler, org_list_handler, org_report_handler
import dormant.automation.orgscan, dormant.org

class Context:
    function_name = "dormant"
    aws_request_id = "0123abcd-clean-venv"
    def get_remaining_time_in_millis(self):
        return 600000

print("RESULT " + json.dumps(handler({}, Context())))
"""


def test_zip_is_reproducible_small_and_runs_the_handler_in_a_clean_venv(
    emulator, now, monkeypatch, tmp_path
):
    first, second = tmp_path / "a" / "dormant-lambda.zip", tmp_path / "b" / "dormant-lambda.zip"
    proc = _package(first)
    _package(second)
    assert first.read_bytes() == second.read_bytes(), "two builds must give the same bytes"

    import hashlib

    sha = hashlib.sha256(first.read_bytes()).hexdigest()
    assert proc.stdout == f"{sha}  {first}\n"
    assert "handler dormant.aws_lambda.handler" in proc.stderr

    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        infos = zf.infolist()
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    tops = {n.split("/")[0] for n in names}
    assert "dormant" in tops and "pydantic_core" in tops and "click" in tops
    assert not any(t.split("-")[0] in PROVIDED or t.startswith("boto") for t in tops), tops
    assert not any(n.startswith("dormant/demo/") or "__pycache__" in n for n in names)
    assert not any(n.startswith("bin/") or n.endswith("/RECORD") for n in names)
    assert "dormant/aws_lambda.py" in names
    assert first.stat().st_size < 10_000_000, "keep the zip small"

    # A clean virtual environment: the standard library, the zip, boto3. Nothing else.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    task = tmp_path / "task"
    with zipfile.ZipFile(first) as zf:
        zf.extractall(task)
    runtime = _runtime(tmp_path)
    script = tmp_path / "invoke.py"
    script.write_text(SCRIPT)

    s = setup(emulator, now, monkeypatch)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "COV_"))
    }
    env.update(s.env)
    env["AWS_ENDPOINT_URL"] = emulator.endpoint_url
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-I", str(script), str(task), str(runtime)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert result["status"] == "ok", result["sinks"]
    assert result["counts"]["new"] == 6
    assert result["run_id"].endswith("-0123abcd")
    keys = {o["Key"] for o in emulator.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert "dormant/state.json" in keys
    assert any(k.endswith("/evidence.zip") for k in keys)
    [msg] = s.messages()
    assert msg["Subject"] == "dormant: 6 new in 123456789012"
    # The structured logs went to standard output, as Lambda sends them to CloudWatch.
    events = [json.loads(ln)["event"] for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert events[0] == "run.started" and events[-1] == "run.finished"
    assert dormant.__version__  # the zip's dormant is this one
