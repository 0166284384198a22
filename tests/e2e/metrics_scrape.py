"""Reading `/metrics` as Prometheus would: every sample, by name and labels."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Scrape:
    samples: Mapping[tuple[str, Labels], float]

    def total(self, name: str, **match: str) -> float:
        """The sum of `name`'s samples whose labels include `match`."""
        wanted = set(match.items())
        return sum(
            value
            for (sample, labels), value in self.samples.items()
            if sample == name and wanted <= labels
        )

    def by(self, name: str, label: str) -> dict[str, float]:
        """`name`'s samples summed by the value of `label`."""
        sums: dict[str, float] = {}
        for (sample, labels), value in self.samples.items():
            if sample == name:
                key = dict(labels)[label]
                sums[key] = sums.get(key, 0.0) + value
        return sums

    def names(self) -> set[str]:
        return {sample for sample, _ in self.samples}

    def series(self) -> set[tuple[str, Labels]]:
        return set(self.samples)


def scrape(base_url: str, token: str | None = None) -> Scrape:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{base_url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return Scrape(samples)


def scrape_until(
    base_url: str,
    done: Callable[[Scrape], bool],
    *,
    token: str | None = None,
    timeout_s: float = 10,
) -> Scrape:
    """Scrapes until `done` holds (a worker's counts reach the files once a poll interval)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = scrape(base_url, token)
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
