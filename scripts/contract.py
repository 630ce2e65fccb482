"""The contract chain: app -> openapi.json -> client/ and clients/typescript/. Export, regenerate, or check drift.

python scripts/contract.py export     # write openapi.json from the app
python scripts/contract.py generate   # export, then regenerate both clients from openapi.json
python scripts/contract.py check      # fail (exit 1) if openapi.json or either client is stale

openapi.json's info.version (the service's ``tally.__version__``) is both clients' version too.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
GENERATOR_CONFIG = ROOT / "scripts" / "client" / "config.yml"
GENERATOR_TEMPLATES = ROOT / "scripts" / "client" / "templates"
# Caches and build leftovers (pdm-backend writes .pdm-build on an editable install): never generated.
IGNORED = {".ruff_cache", "__pycache__", ".mypy_cache", ".pytest_cache", ".pdm-build"}
# Hand-written modules that live beside the generated code in client/: carried over by `generate`, not compared.
HAND_WRITTEN = ("tally_client/recorder.py",)
TYPESCRIPT = Path("clients") / "typescript"
TYPESCRIPT_GENERATED = Path("src") / "client"


def render_spec() -> str:
    """The document the app serves, keys sorted, trailing newline: the same code gives the same bytes."""
    from tally.app import create_app
    from tally.config import Settings

    # The document does not depend on settings; these only let the app be built without a database.
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", jwt_secret="x" * 32))
    return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def spec_version(spec: Path) -> str:
    """The one version number: openapi.json's info.version."""
    version: str = json.loads(spec.read_text(encoding="utf-8"))["info"]["version"]
    return version


def generate_client(spec: Path, dest: Path) -> None:
    """Run the pinned openapi-python-client on ``spec`` into ``dest`` (replaced); the package takes the spec's
    version. Hand-written modules already in ``dest`` are kept."""
    bin_dir = Path(sys.executable).absolute().parent
    # The generator formats its output with whatever ruff is first on PATH: make it the pinned one.
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    kept = {name: (dest / name).read_bytes() for name in HAND_WRITTEN if (dest / name).is_file()}
    if dest.exists():
        shutil.rmtree(dest)
    config = {**yaml.safe_load(GENERATOR_CONFIG.read_text()), "package_version_override": spec_version(spec)}
    config_file = Path(tempfile.mkdtemp()) / "config.yml"
    config_file.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(config_file),
            "--custom-template-path",
            str(GENERATOR_TEMPLATES),
            "--meta",
            "pdm",
            "--output-path",
            str(dest),
            "--fail-on-warning",
        ],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(config_file.parent)
    if result.returncode != 0:
        raise SystemExit(f"openapi-python-client failed:\n{result.stdout}\n{result.stderr}")
    shutil.rmtree(dest / ".ruff_cache", ignore_errors=True)
    for name, content in kept.items():
        (dest / name).write_bytes(content)


def generate_typescript(spec: Path, package: Path, dest: Path) -> None:
    """Run the pinned @hey-api/openapi-ts (``package``'s lockfile) on ``spec`` into ``dest`` (replaced)."""
    subprocess.run([str(ROOT / "scripts" / "node-packages"), str(package)], check=True)
    env = {**os.environ, "TALLY_TS_INPUT": str(spec.absolute()), "TALLY_TS_OUTPUT": str(dest.absolute())}
    result = subprocess.run(
        ["npx", "--no-install", "openapi-ts"], cwd=package, env=env, check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"openapi-ts failed:\n{result.stdout}\n{result.stderr}")


def typescript_manifests(package: Path, version: str) -> dict[str, str]:
    """package.json and package-lock.json as they are with the package's version set to ``version`` (npm's
    own layout: two-space JSON and a newline)."""
    manifests = {}
    for name in ("package.json", "package-lock.json"):
        document = json.loads((package / name).read_text(encoding="utf-8"))
        document["version"] = version
        if name == "package-lock.json":
            document["packages"][""]["version"] = version
        manifests[name] = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return manifests


def tree_differences(expected: Path, actual: Path) -> list[str]:
    """Relative paths that are missing, extra or different in ``actual`` compared with ``expected``."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(f"{prefix}{name} (missing)" for name in cmp.left_only if name not in IGNORED)
        found.extend(f"{prefix}{name} (not generated)" for name in cmp.right_only if name not in IGNORED)
        found.extend(f"{prefix}{name} (differs)" for name in cmp.diff_files)
        for name, sub in cmp.subdirs.items():
            if name not in IGNORED:
                walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(expected, actual, ignore=list(IGNORED)), "")
    # dircmp compares by stat signature first; compare contents of same-named files for certain.
    return sorted(found + _content_differences(expected, actual, found))


def _content_differences(expected: Path, actual: Path, already: list[str]) -> list[str]:
    extra = []
    for path in expected.rglob("*"):
        rel = path.relative_to(expected)
        if path.is_file() and not IGNORED & set(rel.parts):
            other = actual / rel
            label = f"{rel.as_posix()} (differs)"
            if other.is_file() and label not in already and path.read_bytes() != other.read_bytes():
                extra.append(label)
    return extra


def check_drift(root: Path = ROOT) -> list[str]:
    """Every way ``root``'s openapi.json and client/ disagree with the code; empty when all agree."""
    problems = []
    spec = root / "openapi.json"
    if not spec.is_file() or spec.read_text(encoding="utf-8") != render_spec():
        problems.append("openapi.json differs from the app's OpenAPI document: run `nox -s client`")
    if not spec.is_file():
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "client"
        generate_client(spec, fresh)
        client = root / "client"
        differences = tree_differences(fresh, client) if client.is_dir() else ["client/ (missing)"]
        differences = [d for d in differences if d.split(" (")[0] not in HAND_WRITTEN]
        problems.extend(f"client/{d}: regenerating from openapi.json gives another result" for d in differences)
    return problems


def check_typescript_drift(root: Path = ROOT) -> list[str]:
    """Every way ``root``'s clients/typescript disagrees with a regeneration from openapi.json (its generated
    code, or its version); empty when they agree."""
    package = root / TYPESCRIPT
    problems = []
    for name, wanted in typescript_manifests(package, spec_version(root / "openapi.json")).items():
        if (package / name).read_text(encoding="utf-8") != wanted:
            problems.append(f"{TYPESCRIPT / name}: its version is not openapi.json's info.version: run `nox -s client`")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "client"
        generate_typescript(root / "openapi.json", package, fresh)
        committed = package / TYPESCRIPT_GENERATED
        differences = tree_differences(fresh, committed) if committed.is_dir() else ["(missing)"]
        prefix = (TYPESCRIPT / TYPESCRIPT_GENERATED).as_posix()
        problems.extend(f"{prefix}/{d}: regenerating from openapi.json gives another result" for d in differences)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["export", "generate", "check"])
    args = parser.parse_args()
    if args.command == "check":
        problems = check_drift() + check_typescript_drift()
        for problem in problems:
            print(f"drift: {problem}", file=sys.stderr)
        print("drift: none" if not problems else f"drift: {len(problems)} problem(s)")
        return 1 if problems else 0
    (ROOT / "openapi.json").write_text(render_spec(), encoding="utf-8")
    print("wrote openapi.json")
    if args.command == "generate":
        spec = ROOT / "openapi.json"
        generate_client(spec, ROOT / "client")
        print("regenerated client/")
        package = ROOT / TYPESCRIPT
        for name, text in typescript_manifests(package, spec_version(spec)).items():
            (package / name).write_text(text, encoding="utf-8")
        generate_typescript(spec, package, package / TYPESCRIPT_GENERATED)
        print(f"regenerated {TYPESCRIPT / TYPESCRIPT_GENERATED}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
