"""The README's development commands work as documented: `nox -s …` from a nox that is not the project's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_nox_sessions_use_the_project_environment_from_any_nox(tmp_path: Path) -> None:
    """As a globally installed nox runs them: nothing of .venv on PATH, no VIRTUAL_ENV. (The nox package itself
    comes from this interpreter; what matters is the PATH its sessions see.)"""
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PATH")}
    environ["PATH"] = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin") if Path(p).is_dir())
    command = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", "lint"]
    result = subprocess.run(
        command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Session lint was successful" in result.stderr
