"""The README's catalog examples, run as written against the demo's catalog, leave the demo's features as they
were (a PUT replaces a whole feature, so an example on a demo feature would wipe what it leaves out)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from tally.demo import CATALOG
from tests.conftest import FEATURES_URL, PLATFORM

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[2] / "README.md"
PUT = re.compile(r"""curl -X PUT [^\n]*\\\n\s+-d '(\{[^']*\})'(?: \\\n\s+| )"\$API/features/([a-z0-9_.-]+)\"""")


def readme_puts() -> list[tuple[str, dict[str, object]]]:
    return [(key, json.loads(body)) for body, key in PUT.findall(README.read_text())]


async def test_the_readme_catalog_examples_do_not_damage_the_demo(client) -> None:
    demo = {f.feature_key: {k: v for k, v in msgspec.to_builtins(f).items() if k != "feature_key"} for f in CATALOG}
    for key, body in demo.items():
        assert (await client.put(f"{FEATURES_URL}/{key}", json=body, headers=PLATFORM)).status_code == 201
    examples = readme_puts()
    assert len(examples) >= 2, "the README's PUT examples were not found"
    statuses = [
        (await client.put(f"{FEATURES_URL}/{key}", json=body, headers=PLATFORM)).status_code for key, body in examples
    ]
    assert statuses == [201] + [200] * (len(examples) - 1)  # as the README's comments say
    catalog = {f.pop("feature_key"): f for f in (await client.get(FEATURES_URL, headers=PLATFORM)).json()}
    assert {key: catalog[key] for key in demo} == demo
