"""Reading figures out of a Prometheus scrape (``GET /metrics``), for the tests in process and over HTTP alike."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 when there are none).

    Only the sample lines of ``name`` go to prometheus_client's parser: a scrape here is of the test worker's whole
    registry, which holds every request of the session so far, and parsing all of it for each figure (the webhook
    tests poll every 50 ms) was about a twelfth of the integration tests' time in a profiled run."""
    lines = [line for line in text.splitlines() if line.startswith((f"{name} ", f"{name}{{"))]
    return sum(
        s.value
        for family in text_string_to_metric_families("\n".join(lines) + "\n")
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )
