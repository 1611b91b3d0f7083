"""The fenced blocks of a Markdown document, each with the example marker written right before it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO

FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<language>[\w+-]*)\s*$")
MARKER = re.compile(r"^<!-- example: (?P<kind>[a-z-]+)(?P<colon>:?)(?: (?P<argument>.*?))? -->$")
OTHER_COMMENT = re.compile(r"^<!--(?! example:).*-->$")

KINDS = {
    "run": "commands (sh) or code (python) run against the demo; `run exits N`: that exit code is expected",
    "output": "what the previous run or grpcurl block prints, compared (tests/docs/matching.py)",
    "grpcurl": "one grpcurl command, made as the same call over mutual TLS (tests/docs/grpcurl.py)",
    "file": "`file NAME`: written to NAME in the demo's checkout, for the examples after it",
    "feed": "`feed NAME`: a feed, written to NAME and validated by `risklist-load --dry-run` (every row accepted)",
    "policy": "a policy file the server accepts (core/policy_file.py)",
    "partners": "a partners file the server accepts (core/partners.py)",
    "settings": "a settings file the server accepts; it shows the defaults (core/settings.py)",
    "proto": "messages as risklist.proto declares them: each field's name, number and type",
    "usage": "`usage PROGRAM`: a synopsis; every --flag it names is one PROGRAM --help lists",
    "figure": "not an example: a drawing, a listing or pseudo-code (no language tag, no command in it)",
    "not-run": "`not-run: REASON`: an example the tests cannot run, and why",
}
"""Every kind of marker, and what the tests do with a block of that kind."""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its language tag, its text, and its marker (kind and argument)."""

    path: Path
    line: int
    """The line of the opening fence, counting from 1."""
    language: str
    text: str
    kind: str | None
    argument: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of `path` in order. A block's marker is the `<!-- example: … -->` line before its
    fence (other HTML comments may stand between them); None when there is none or it is malformed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        end = next((i for i in range(index + 1, len(lines)) if lines[i].strip() == fence), len(lines))
        kind, argument = _marker(lines, index)
        found.append(Block(path, index + 1, opening["language"], "\n".join(lines[index + 1 : end]) + "\n",
                           kind, argument))
        index = end + 1
    return found


def _marker(lines: list[str], fence: int) -> tuple[str | None, str]:
    above = fence - 1
    while above >= 0 and OTHER_COMMENT.match(lines[above].strip()):
        above -= 1
    if above < 0:
        return None, ""
    marker = MARKER.match(lines[above].strip())
    if marker is None or marker["kind"] not in KINDS:
        return None, ""
    if (marker["kind"] == "not-run") != bool(marker["colon"]):
        return None, ""  # `not-run: REASON` has its colon; no other kind has one
    return marker["kind"], (marker["argument"] or "").strip()
