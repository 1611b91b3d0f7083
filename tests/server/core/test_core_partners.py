"""The --partners file: members, roles, quotas, ingest sources and the errors a broken file gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from risklist_server.core.errors import ConfigError, SourceNotAllowed
from risklist_server.core.partners import Rate, Role, load_partners, require_ingest_source
from tests.support.paths import REPO

EXAMPLE = REPO / "docs" / "examples" / "partners.toml"


def test_the_documented_example_loads_with_defaults_applied() -> None:
    """docs/examples/partners.toml (used by make serve) is valid; [defaults] fill what a partner leaves out."""
    partners = load_partners(EXAMPLE)
    assert partners["operator"].roles == frozenset({Role.ADMIN})
    assert partners["east-harbour-bank"].quota.requests == Rate(200, 400)
    assert partners["north-plains-credit"].quota.requests == Rate(50, 100)
    assert partners["north-plains-credit"].quota.subjects == Rate(200_000, 400_000)


def test_a_rate_without_burst_allows_one_second_of_it(tmp_path: Path) -> None:
    """requests_per_second alone means a burst of one second's worth (at least one call); no rate means no limit."""
    partners = load_partners(_write(tmp_path, '[partners.a]\nroles = []\nrequests_per_second = 0.5\n'))
    assert partners["a"].quota.requests == Rate(0.5, 1.0) and partners["a"].quota.subjects is None
    assert partners["a"].roles == frozenset()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "partners.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ('[partners.a]\nroles = ["query"]\nrequests_per_secnd = 5\n', "partner 'a': unknown key(s) requests_per_secnd"),
    ('[partners.a]\nroles = ["query", "write"]\n', "partner 'a': key roles: unknown role 'write'"),
    ('[partners.a]\nroles = "query"\n', "partner 'a': key roles: must be a list"),
    ('[partners.a]\n', "partner 'a': key roles"),
    ('[partners.a]\nroles = []\nsubjects_per_second = -1\n', "key subjects_per_second: must be a positive"),
    ('[partners.a]\nroles = []\nrequests_per_second = true\n', "key requests_per_second: must be a positive"),
    ('[partners.a]\nroles = []\nrequests_burst = 5\n', "partner 'a': key requests_burst: set requests_per_second"),
    ('[partners.a]\nroles = []\nrequests_per_second = 5\nrequests_burst = 0.5\n',
     "key requests_burst: must be at least 1"),
    ('[partners.Bank_A]\nroles = []\n', "partner 'Bank_A': bad id"),
    ('[partners.server]\nroles = []\n', "partner 'server': bad id: 'server' is reserved"),
    ('[partner.a]\nroles = []\n', "unknown top-level key(s) partner"),
    ('[defaults]\nroles = ["query"]\n[partners.a]\nroles = []\n', "defaults: unknown key(s) roles"),
    ('', "no partners"),
    ('[partners.op]\nroles = ["admin"]\ningest_sources = "legacy"\n',
     "partner 'op': key ingest_sources: must be a list"),
    ('[partners.op]\nroles = ["admin"]\ningest_sources = ["Legacy Feed"]\n',
     "partner 'op': key ingest_sources: 'Legacy Feed' is not a source id"),
    ('[partners.op]\nroles = ["admin"]\ningest_sources = ["old", "old"]\n', "key ingest_sources: old listed twice"),
    ('[partners.op]\nroles = ["query"]\ningest_sources = ["old"]\n',
     "partner 'op': key ingest_sources: only a partner with the admin role"),
    ('[partners.a]\nroles = []\n[partners.op]\nroles = ["admin"]\ningest_sources = ["a"]\n',
     "partner 'op': key ingest_sources: a: a member of the network"),
    ('[defaults]\ningest_sources = ["old"]\n[partners.a]\nroles = []\n', "defaults: unknown key(s) ingest_sources"),
    ('[partners.a\n', "is not valid TOML"),
])
def test_a_broken_file_names_the_file_the_partner_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    """Each mistake is one ConfigError naming the file, the partner and the key at fault."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_partners(path)
    assert str(path) in str(raised.value) and expected in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A partners file that does not exist says so, naming it."""
    with pytest.raises(ConfigError, match="partners file .*nope.toml does not exist"):
        load_partners(tmp_path / "nope.toml")


def test_an_ingest_source_is_a_member_or_declared_for_the_loading_partner(tmp_path: Path) -> None:
    """Any admin partner may load under a member's id; a declared ingest source only the partner declaring it."""
    partners = load_partners(_write(tmp_path, '[partners.bank-a]\nroles = ["query"]\n'
                                              '[partners.op]\nroles = ["admin"]\ningest_sources = ["legacy-feed"]\n'
                                              '[partners.op2]\nroles = ["admin"]\n'))
    assert partners["op"].ingest_sources == frozenset({"legacy-feed"}) and not partners["op2"].ingest_sources
    for caller in ("op", "op2"):
        require_ingest_source(partners, caller, "bank-a")
    require_ingest_source(partners, "op", "legacy-feed")
    with pytest.raises(SourceNotAllowed) as refused:
        require_ingest_source(partners, "op2", "legacy-feed")
    assert "source 'legacy-feed' is neither a member" in str(refused.value)
    assert 'ingest_sources = ["legacy-feed"] in [partners.op2]' in str(refused.value)
    with pytest.raises(SourceNotAllowed, match="'bank-b' is neither a member"):
        require_ingest_source(partners, "op", "bank-b")
