"""The README's worked example of remediation, run as written: its policy file, then each of its
commands in order against the emulated account, with the account's state checked between."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from remediate_support import full_state, seed_account

from dormant.demo import moto_ext

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> tuple[str, list[str]]:
    section = README.read_text().split("## Retire unused access: plan, apply, roll back", 1)[1]
    section = section.split("\n## ", 1)[0]
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    sh = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands = [line for line in sh.splitlines() if line.strip() and not line.startswith("#")]
    return toml, commands


def test_readme_example_plan_review_apply_rollback(emulator, now, tmp_path, monkeypatch):
    import subprocess

    seed_account(emulator, now)
    moto_ext.set_in_progress_polls("123456789012", 0)
    iam = emulator.client("iam")
    before = full_state(iam)
    toml, commands = _example()
    (tmp_path / "policy.toml").write_text(toml)
    assert [c.split()[:3] for c in commands][:2] == [
        ["dormant", "collect", "--out"],
        ["dormant", "remediate", "plan"],
    ]
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    outputs = {}
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "dormant"
        dry = argv[1] == "remediate" and "--apply" not in argv
        prior = full_state(iam) if dry else None
        proc = subprocess.run(
            [sys.executable, "-m", "dormant.cli", *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
        outputs[command] = proc.stdout
        if command.endswith("plan.json --policy policy.toml --apply"):
            # Applied: the stale key is inactive, the idle role quarantined, the role
            # quarantined 40 days ago deleted; the password waits for --allow-irreversible.
            assert (
                iam.list_access_keys(UserName="stale")["AccessKeyMetadata"][0]["Status"]
                == "Inactive"
            )
            assert any(
                n.startswith("dormant-quarantine-")
                for n in iam.list_role_policies(RoleName="idle")["PolicyNames"]
            )
            assert "quarantined" not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
            assert iam.get_login_profile(UserName="stale")
        elif command.endswith("--apply") and "rollback" in command:
            assert full_state(iam) == before
        if dry:
            assert full_state(iam) == prior, f"{command} changed something"
    show_plan = next(v for k, v in outputs.items() if k.endswith("show plan.json"))
    assert "iam:UpdateAccessKey UserName=stale" in show_plan
    assert "excluded: allow-list: arn:aws:iam::*:role/vendor-*" in show_plan
    journal = next(v for k, v in outputs.items() if k.endswith("show plan.journal.sqlite"))
    assert re.search(r"apply 2: iam:UpdateAccessKey .*\[done\]", journal)
    assert full_state(iam) == before
