"""Policy files: a good one parses to its rules; a bad one names file, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_kernel.enums import Action, Category, RiskLevel
from risklist_server.core.errors import PolicyError
from risklist_server.core.policy import Rule
from risklist_server.core.policy_file import load_policy, parse_policy

GOOD = """\
# Jade River network policy
[[rule]]
action = "BLOCK"
reason_code = "BLOCK_MULE_TRUSTED"
description = "two precise banks report a money mule"
categories = ["money_mule", "Telecom_Fraud"]
min_level = "high"
min_sources = 2
max_age_days = 180
min_source_precision = 0.8
unknown_precision = "include"

[[rule]]
action = "block"
reason_code = "BLOCK_CRITICAL_ANY"
min_level = 4
allow_single_source = true

[default]
action = "REVIEW"
reason_code = "REVIEW_LISTED"
"""

DEFAULT = '\n[default]\naction = "REVIEW"\nreason_code = "REVIEW_LISTED"\n'


def test_a_good_file_parses_to_its_rules_in_order(tmp_path: Path) -> None:
    """Every key is read: names are case-insensitive, levels by name or number, rules kept in order."""
    path = tmp_path / "policy.toml"
    path.write_text(GOOD)
    policy = load_policy(path)
    assert policy.rules == (
        Rule(Action.BLOCK, "BLOCK_MULE_TRUSTED", categories=frozenset({Category.MONEY_MULE, Category.TELECOM_FRAUD}),
             min_level=RiskLevel.HIGH, min_sources=2, max_age_days=180, min_source_precision=0.8,
             unknown_precision="include"),
        Rule(Action.BLOCK, "BLOCK_CRITICAL_ANY", min_level=RiskLevel.CRITICAL, allow_single_source=True),
    )
    assert policy.default == Rule(Action.REVIEW, "REVIEW_LISTED")
    assert policy.origin == str(path) and len(policy.version) == 12


def test_the_version_follows_the_content() -> None:
    """The same bytes give the same version; any change gives another."""
    first = parse_policy(GOOD.encode(), origin="a")
    assert parse_policy(GOOD.encode(), origin="b").version == first.version
    assert parse_policy(GOOD.replace("180", "181").encode(), origin="a").version != first.version


# (file text, line the error must name, words the reason must hold)
BROKEN = [
    pytest.param('[[rule]]\naction = "BLOCK\nreason_code = "X"\n', 2, "not valid TOML", id="toml-syntax"),
    pytest.param('[[rule]]\naction = "ALLOW"\nreason_code = "A"\n' + '\n[[rule]]\naction = "REVIEW"\n'
                 'reason_code = "B"\nmin_levl = "high"\n' + DEFAULT, 8, "rule 2: unknown key 'min_levl'",
                 id="unknown-key"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "R"\n\n[[rule]]\naction = "BLOCK"\n'
                 'reason_code = "BLOCK_CRITICAL"\nmin_level = "critical"\n' + DEFAULT, 6,
                 "rule 2: a BLOCK rule that one source can satisfy needs allow_single_source = true",
                 id="poisoning-defence"),
    pytest.param('[[rule]]\naction = "BLOCK"\nreason_code = "B"\nmin_sources = 1\n' + DEFAULT, 2,
                 "poisoning defence", id="block-min-sources-1"),
    pytest.param('[[rule]]\naction = "DENY"\nreason_code = "X"\n' + DEFAULT, 2,
                 "action 'DENY' is not one of ALLOW, REVIEW, BLOCK", id="bad-action"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "review-me"\n' + DEFAULT, 3,
                 "must be an upper-case token", id="bad-reason-code"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "NOT_LISTED"\n' + DEFAULT, 3,
                 "reserved", id="reserved-reason-code"),
    pytest.param('[[rule]]\naction = "REVIEW"\n\nreason_code = "R"\ncategories = ["phishing"]\n' + DEFAULT, 5,
                 "categories: unknown value 'phishing'", id="bad-category"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "R"\nmin_level = "hgh"\n' + DEFAULT, 4,
                 "rule 1: min_level: unknown level 'hgh'", id="bad-level"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "R"\nmin_sources = 0\n' + DEFAULT, 4,
                 "min_sources must be a whole number from 1", id="zero-sources"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "R"\nmax_age_days = 1.5\n' + DEFAULT, 4,
                 "max_age_days must be a whole number", id="fractional-days"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "R"\nmin_source_precision = 1.2\n' + DEFAULT, 4,
                 "from 0.0 to 1.0", id="precision-range"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "R"\nunknown_precision = "include"\n' + DEFAULT, 4,
                 "unknown_precision needs min_source_precision", id="unknown-precision-alone"),
    pytest.param('[[rule]]\nreason_code = "R"\n' + DEFAULT, 1, "rule 1: action is required", id="no-action"),
    pytest.param('[[rule]]\naction = "REVIEW"\nreason_code = "R"\n', 0, "[default] table is missing",
                 id="no-default"),
    pytest.param('[default]\naction = "REVIEW"\nreason_code = "R"\nmin_level = "high"\n', 4,
                 "[default]: unknown key 'min_level'; conditions belong in [[rule]] tables", id="default-condition"),
    pytest.param('[default]\naction = "BLOCK"\nreason_code = "BLOCK_ALL"\n', 2, "[default]: a BLOCK rule",
                 id="default-block"),
    pytest.param('version = 2\n' + DEFAULT, 1, "unknown key 'version'", id="unknown-top-key"),
    pytest.param('rule = "x"\n' + DEFAULT, 1, "[[rule]] tables", id="rule-not-tables"),
]


@pytest.mark.parametrize(("text", "line", "reason"), BROKEN)
def test_a_broken_file_names_its_line_and_reason(tmp_path: Path, text: str, line: int, reason: str) -> None:
    """Each mistake is a PolicyError with the file, the line at fault and a reason saying what is wrong."""
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert reason in caught.value.reason
    where = f"{path}, line {line}" if line else str(path)
    assert str(caught.value).startswith(f"policy file {where}: ")


def test_a_missing_or_binary_file_is_a_policy_error(tmp_path: Path) -> None:
    """A missing file and a file that is not UTF-8 are clear errors, not tracebacks."""
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "absent.toml")
    path = tmp_path / "policy.toml"
    path.write_bytes(b'[default]\naction = "REVIEW"\n\xff\n')
    with pytest.raises(PolicyError, match="line 3: the file is not UTF-8"):
        load_policy(path)
