"""The README's development commands work as documented: `nox -s …` from a nox that is not the project's."""

from __future__ import annotations

import os
import socket
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


@pytest.mark.e2e
def test_a_second_server_says_who_holds_the_port_before_printing_any_token() -> None:
    """A second ``scripts/server`` used to print tokens signed with a secret of its own, then fail to bind (exit 3),
    leaving tokens that the running server answers with 401. Now it stops first, naming the process on the port."""
    demo_database = ROOT / "tally-demo.db"  # where scripts/server keeps the demo's data
    before = demo_database.stat().st_mtime if demo_database.exists() else None
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [str(ROOT / "scripts" / "server"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "token" not in result.stdout.lower()
    assert not demo_database.exists() or demo_database.stat().st_mtime == before  # nor touched the demo's data
    assert "Tally demo" not in result.stdout
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("tally: ")]
    assert f"port {port} is already in use by process {os.getpid()} (" in line
    assert "--port" in line
