"""WatchState against a plain model, reopened: watched keys, pending screens, alert state, outbox and version."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risklist_client.alerts import Alert, AlertKind, Summary
from risklist_client.result import CheckResult, not_listed
from risklist_client.watch_state import Change, StateError, WatchState
from risklist_kernel.enums import Action, EntityType, RiskLevel

KEYS = st.sampled_from([bytes((3,)) + bytes([n]) * 16 for n in range(8)])
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("add"), st.lists(st.tuples(KEYS, st.sampled_from(["a", "b"])), max_size=4)),
    st.tuples(st.just("remove"), st.lists(KEYS, max_size=3)),
    st.tuples(st.just("replace"), st.lists(st.tuples(KEYS, st.sampled_from(["a", "b"])), max_size=5)),
    st.tuples(st.just("record"), st.lists(st.tuples(KEYS, st.booleans()), max_size=3), st.integers(0, 20),
              st.booleans()),
    st.tuples(st.just("mark")),
    st.tuples(st.just("deliver"), st.integers(0, 3)),
), max_size=12)


def _listed(key: bytes) -> CheckResult:
    return CheckResult(True, Action.REVIEW, "server", 1, RiskLevel.HIGH, (), 1, 1, subject_key=key)


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
def test_the_state_matches_a_model_and_survives_reopening(operations: list[tuple]) -> None:  # type: ignore[type-arg]
    """After any sequence of operations, and again after reopening the file, the state says what the model says."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "watch.sqlite"
        state = WatchState(path, "fp")
        watched: dict[bytes, str] = {}
        pending: dict[bytes, int] = {}  # pending key -> the number of the insert that made it pending
        inserts = 0
        state_mark = model_mark = 0  # the last pending_mark(), and what it covers in the model
        alerted: set[bytes] = set()
        outbox: list[int] = []
        version: int | None = None
        for operation in operations:
            if operation[0] == "add":
                new = [key for key, _ in dict(operation[1]).items() if key not in watched]
                assert sorted(state.add(operation[1])) == sorted(new)
                watched.update(dict(operation[1]))
                for key in sorted(new):
                    inserts += 1
                    pending[key] = inserts
            elif operation[0] == "remove":
                state.remove(operation[1])
                for key in operation[1]:
                    watched.pop(key, None)
                    pending.pop(key, None)
                    alerted.discard(key)
            elif operation[0] == "replace":
                incoming = dict(operation[1])
                added, removed = state.replace_all(operation[1])
                assert sorted(added) == sorted(set(incoming) - set(watched))
                assert removed == len(set(watched) - set(incoming))
                pending = {key: n for key, n in pending.items() if key in incoming}
                for key in sorted(set(incoming) - set(watched)):
                    inserts += 1
                    pending[key] = inserts
                alerted &= set(incoming)
                watched = incoming
            elif operation[0] == "record":
                changes = []
                for key, listed in dict(operation[1]).items():
                    result = _listed(key) if listed else not_listed(1, "server")
                    kind = AlertKind.LISTED if listed else AlertKind.CLEARED
                    alert = Alert(0, kind, EntityType.PHONE, "", key, result, None, 0.0)
                    changes.append(Change(key, Summary.of(result) if listed else None, alert))
                recorded = state.record(changes, version=operation[2], screened=[key for key, _ in operation[1]],
                                        screened_through=state_mark if operation[3] else 0)
                assert [alert.subject_key for alert in recorded] == [c.key for c in changes if c.key in watched]
                outbox.extend(alert.alert_id for alert in recorded)
                for change in changes:
                    if change.key in watched:
                        (alerted.add if change.summary is not None else alerted.discard)(change.key)
                through = model_mark if operation[3] else 0
                pending = {key: n for key, n in pending.items() if n > through and key not in dict(operation[1])}
                if version is None or operation[2] > version:
                    version = operation[2]
            elif operation[0] == "mark":
                state_mark, model_mark = state.pending_mark(), inserts
            else:
                for alert_id in outbox[: operation[1]]:
                    state.delivered(alert_id)
                del outbox[: operation[1]]
        for current in (state, WatchState(path, "fp")):
            assert list(current.watched_keys()) == sorted(watched)
            assert current.labels(list(watched)) == watched
            assert set(current.pending()) == set(pending) and set(current.alerted_keys()) == alerted
            assert [alert.alert_id for alert in current.undelivered()] == outbox
            assert current.version == version
            current.close()


def test_a_state_of_another_network_is_refused(tmp_path: Path) -> None:
    """A state file made under one secret's fingerprint is not opened under another's."""
    WatchState(tmp_path / "watch.sqlite", "aaaa").close()
    with pytest.raises(StateError, match="made under network secret aaaa"):
        WatchState(tmp_path / "watch.sqlite", "bbbb")
