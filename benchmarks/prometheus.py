"""Reading the server's Prometheus metrics: parse the text format, count gRPC statuses."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

HANDLED = "grpc_server_handled_total"
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+\S+)?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample line: metric name, labels, value."""

    name: str
    labels: Mapping[str, str]
    value: float


def parse_text(text: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition (comments and blank lines skipped)."""
    samples: list[Sample] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise ValueError(f"not a Prometheus sample line: {line!r}")
        labels: dict[str, str] = {}
        label_text = match.group("labels") or ""
        position = 0
        while position < len(label_text):
            label = _LABEL.match(label_text, position)
            if label is None:
                raise ValueError(f"bad labels in {line!r}")
            labels[label.group(1)] = _unescape(label.group(2))
            position = label.end()
        samples.append(Sample(match.group("name"), labels, float(match.group("value"))))
    return samples


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def handled_by_code(samples: list[Sample], method: str, service: str = "risklist.v1.RiskList") -> dict[str, float]:
    """grpc_server_handled_total of one method, summed per grpc_code (over workers, if labelled so)."""
    counts: dict[str, float] = {}
    for sample in samples:
        if (sample.name == HANDLED and sample.labels.get("grpc_method") == method
                and sample.labels.get("grpc_service") == service):
            code = sample.labels.get("grpc_code", "UNKNOWN")
            counts[code] = counts.get(code, 0.0) + sample.value
    return counts


def code_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, int]:
    """Per-code counts handled between two readings (codes with no change are left out)."""
    delta = {code: int(after.get(code, 0.0) - before.get(code, 0.0)) for code in {*before, *after}}
    return {code: count for code, count in sorted(delta.items()) if count}


def fetch(port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> list[Sample]:
    """Scrape http://host:port/metrics."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as response:
        return parse_text(response.read().decode("utf-8"))
