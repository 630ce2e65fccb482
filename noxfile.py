"""Every task a developer or CI runs. ``scripts/test`` runs lint, typecheck, drift, breaking and tests.

Sessions run in the project's own virtual environment (made by ``scripts/bootstrap`` from the pinned
``constraints.txt``) instead of one venv per session: the generated client and the drift check depend
on exact tool versions, and one environment keeps them identical everywhere.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nox

# Whichever nox runs this file (the project's, or one installed globally with pipx or apt), the sessions run the
# tools of the project's .venv: make it if missing, then put it first on PATH, as `source .venv/bin/activate` would.
ROOT = Path(__file__).parent
VENV = ROOT / ".venv"
subprocess.run([str(ROOT / "scripts" / "bootstrap")], check=True)
os.environ["VIRTUAL_ENV"] = str(VENV)
os.environ["PATH"] = f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"

nox.options.sessions = ["lint", "typecheck", "drift", "breaking", "tests"]
nox.options.default_venv_backend = "none"


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")  # the layers and no cycles: [tool.importlinter] in pyproject.toml


@nox.session(python=False)
def typecheck(session: nox.Session) -> None:
    session.run("mypy")
    session.run("mypy", "--strict", "client/tally_client")
    # The TypeScript SDK, generated code and live tests alike, under tsc --strict (its tsconfig.json).
    session.run(str(ROOT / "scripts" / "node-packages"), str(ROOT / "clients" / "typescript"), external=True)
    with session.chdir(ROOT / "clients" / "typescript"):
        session.run("npx", "--no-install", "tsc", "--noEmit", external=True)


@nox.session(python=False)
def drift(session: nox.Session) -> None:
    """Fail when openapi.json differs from the app, or client/ or clients/typescript from a regeneration of it."""
    session.run("python", "scripts/contract.py", "check")


@nox.session(python=False)
def client(session: nox.Session) -> None:
    """Re-export openapi.json from the app and regenerate client/ and clients/typescript from it, on purpose."""
    session.run("python", "scripts/contract.py", "generate")


@nox.session(python=False)
def breaking(session: nox.Session) -> None:
    """Fail on a breaking change to openapi.json since the last release tag (or the first spec) unless the major
    version went up and CHANGELOG.md names it (scripts/breaking.py)."""
    session.run("python", "scripts/breaking.py", *session.posargs)


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The suite on every core (pytest-xdist): each worker has its own PostgreSQL database and SQLite file (the
    session fixtures of tests/conftest.py), and tests that share an expensive fixture carry one ``xdist_group``.
    ``-- -n 0`` runs it in one process.

    One worker more than there are cores: the end-to-end tests spend part of their time waiting (for a server to
    start or stop, a subprocess, a retry's back-off), and a third worker on two cores runs tests in those waits
    (the cores went from 86% to 96% busy, and the suite from 324-339 s to 312 s, on the same machine)."""
    workers = str((os.cpu_count() or 1) + 1)
    session.run("pytest", "-n", workers, "--dist", "loadgroup", *session.posargs)


@nox.session(python=False)
def fuzz(session: nox.Session) -> None:
    """The fuzz test (tests/e2e/test_fuzz.py) at length: more cases per operation (figures: docs/reliability.md).
    ``nox -s fuzz -- 2000 7`` sets the examples per operation and the seed."""
    defaults = ["1000", "1"]
    examples, seed = [*session.posargs, *defaults[len(session.posargs) :]][:2]
    env = {"TALLY_FUZZ_MAX_EXAMPLES": examples, "TALLY_FUZZ_SEED": seed}
    session.run("pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/e2e/test_fuzz.py", env=env)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Ingestion rate, totals latency and memory over HTTP against PostgreSQL (figures: docs/benchmarks.md)."""
    session.run("python", "scripts/bench.py", *session.posargs)


@nox.session(python=False)
def bench_distinct(session: nox.Session) -> None:
    """Distinct-count reads, exact and approximate, at 10 to 1,000,000 distinct users (figures: docs/benchmarks.md)."""
    session.run("python", "scripts/bench_distinct.py", *session.posargs)


@nox.session(python=False)
def bench_periods(session: nox.Session) -> None:
    """Closing a period of 1,000,000 events, and totals as_of an instant beside the live read (docs/benchmarks.md)."""
    session.run("python", "scripts/bench_periods.py", *session.posargs)


@nox.session(python=False)
def bench_credits(session: nox.Session) -> None:
    """The entitlement check and hard-stop ingestion with 0, 10, 100 grants; hold + commit against a plain record
    (figures: docs/benchmarks.md)."""
    session.run("python", "scripts/bench_credits.py", *session.posargs)


@nox.session(python=False)
def bench_rate_limit(session: nox.Session) -> None:
    """A totals read's cost with no limit, a per-process limit and the shared one (figures: docs/scaling.md)."""
    session.run("python", "scripts/bench_rate_limit.py", *session.posargs)
