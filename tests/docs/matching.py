"""Comparing what a document shows with what the demo answered, normalising only what must differ.

The normalisations, and nothing else:

- **request ids** (24 hex digits) and **secret fingerprints** (16 hex digits) differ in every run (the demo's
  secret is random, like `make serve`'s). The document's value stands for the real one: the first time
  it appears it is bound to the value the demo gave there, and from then on, within the document, the
  same shown value must meet the same real value and different shown values different real ones. A request
  a later example sends with a shown request id gets the bound real one.
- **outcome tokens** (`outcomeToken`, base64): an HMAC under the demo store's random outcome key, so they
  differ in every run; bound the same way, and a ReportOutcome quoting a shown token sends the real one.
- **list versions** (`listVersion`, `version`, "list version N", "list_version N"): bound the same way,
  so a document that shows the version growing after a write, or staying put, is checked for it.
- **times**: the demo's dates are the seeds' moved to the day it is built (seeds/generate.py --anchor), and
  documents show a demo built on the seeds' own anchor (2026-11-23). Every timestamp the demo answers is
  moved back by that many days and then compared exactly. Durations and rates a command prints about
  itself ("0.08 s, 8,029 rows/s") are not compared.
- **paths and addresses**: the demo's checkout folder, its ports and the production folders of the
  examples (tests/docs/runner.py, REWRITES) are written back as the document spells them.
- **elisions** in a shown JSON answer: `"…"` stands for any value, a string ending in `…` for any string
  starting with what precedes it, and a `"…": "…"` member for any further members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ELLIPSIS = "…"
TIMESTAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\b")
BOUND_FIELDS = {"requestId": "request id", "hitRequestId": "request id", "secretFingerprint": "fingerprint",
                "listVersion": "version", "version": "version", "outcomeToken": "outcome token",
                "hitToken": "outcome token"}
"""JSON members whose values differ from run to run, and the class of token each is bound as."""
TEXT_TOKENS = (
    ("request id", re.compile(r"(?<![0-9a-f])[0-9a-f]{24}(?![0-9a-f])")),
    ("fingerprint", re.compile(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])")),
    ("version", re.compile(r"(?<=list version )\d+|(?<=list_version )\d+")),
)
"""The same classes in printed text (risklist-check, risklist-load), found by their shape."""
DURATION = re.compile(r"\d+(?:\.\d+)? s, [\d,]+ rows/s")


class Mismatch(AssertionError):
    """What a document shows is not what the demo answered."""


@dataclass
class Bindings:
    """The document's shown tokens and the real ones they stand for, one to one, per token class."""

    shown_to_real: dict[tuple[str, str], str] = field(default_factory=dict)
    real_to_shown: dict[tuple[str, str], str] = field(default_factory=dict)

    def bind(self, token_class: str, shown: str, real: str, where: str) -> None:
        known = self.shown_to_real.get((token_class, shown))
        if known is not None and known != real:
            raise Mismatch(f"{where}: the {token_class} {shown} stood for {known} before, but here the demo "
                           f"answered {real}")
        other = self.real_to_shown.get((token_class, real))
        if other is not None and other != shown:
            raise Mismatch(f"{where}: shown as {shown}, but the demo's {token_class} {real} was shown as {other} "
                           "before: the document shows two values where the demo had one")
        self.shown_to_real[(token_class, shown)] = real
        self.real_to_shown[(token_class, real)] = shown

    def real(self, token_class: str, shown: str) -> str | None:
        return self.shown_to_real.get((token_class, shown))


def moved_back(timestamp: str, days: int) -> str:
    """An RFC 3339 UTC timestamp the demo answered, moved `days` days earlier, in the same form."""
    fraction = ""
    if "." in timestamp:
        timestamp, fraction = timestamp[:-1].split(".")
        fraction, timestamp = "." + fraction, timestamp + "Z"
    moment = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def match_json(shown: Any, real: Any, *, days: int, bindings: Bindings, where: str, member: str = "") -> None:
    """Raise Mismatch unless `real` (a JSON value the demo answered) is what `shown` shows."""
    here = f"{where} {member or 'the answer'}"
    if shown == ELLIPSIS:
        return
    if member.rsplit(".", 1)[-1] in BOUND_FIELDS and isinstance(shown, str) and isinstance(real, str):
        bindings.bind(BOUND_FIELDS[member.rsplit(".", 1)[-1]], shown, real, here)
        return
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            raise Mismatch(f"{here}: shown an object, the demo answered {real!r}")
        open_ended = shown.get(ELLIPSIS) == ELLIPSIS
        missing = sorted(set(shown) - set(real) - {ELLIPSIS})
        extra = [] if open_ended else sorted(set(real) - set(shown))
        if missing or extra:
            raise Mismatch(f"{here}: shown members {sorted(shown)}, the demo answered {sorted(real)}"
                           f" (missing {missing}, not shown {extra}); the demo answered {real!r}")
        for name, value in shown.items():
            if name != ELLIPSIS:
                match_json(value, real[name], days=days, bindings=bindings, where=where,
                           member=f"{member}.{name}" if member else name)
        return
    if isinstance(shown, list):
        if not isinstance(real, list) or len(shown) != len(real):
            raise Mismatch(f"{here}: shown {len(shown)} items, the demo answered {real!r}")
        for index, (one, other) in enumerate(zip(shown, real, strict=True)):
            match_json(one, other, days=days, bindings=bindings, where=where, member=f"{member}[{index}]")
        return
    if isinstance(shown, str) and isinstance(real, str):
        actual = moved_back(real, days) if TIMESTAMP.fullmatch(real) else real
        if shown.endswith(ELLIPSIS) and actual.startswith(shown[:-1]):
            return
        if shown != actual:
            raise Mismatch(f"{here}: shown {shown!r}, the demo answered {actual!r}"
                           + (f" (as {real!r}: its dates are {days} days later)" if actual != real else ""))
        return
    if shown != real or type(shown) is not type(real):
        raise Mismatch(f"{here}: shown {shown!r}, the demo answered {real!r}")


def match_text(shown: str, real: str, *, days: int, bindings: Bindings, where: str) -> None:
    """Raise Mismatch unless printed text `real` is `shown`, after the normalisations above."""
    real = TIMESTAMP.sub(lambda found: moved_back(found.group(), days), real)
    shown, real = DURATION.sub("<duration>", shown), DURATION.sub("<duration>", real)
    for token_class, pattern in TEXT_TOKENS:
        shown_tokens, real_tokens = pattern.findall(shown), pattern.findall(real)
        if len(shown_tokens) == len(real_tokens):
            for one, other in zip(shown_tokens, real_tokens, strict=True):
                bindings.bind(token_class, one, other, where)
            shown = pattern.sub(f"<{token_class}>", shown)
            real = pattern.sub(f"<{token_class}>", real)
    if shown.rstrip() != real.rstrip():
        raise Mismatch(f"{where}: the document shows\n{shown}\nbut the command printed\n{real}")
