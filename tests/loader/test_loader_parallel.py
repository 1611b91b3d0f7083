"""Pass 1 split over chunks and worker processes, and its fast path, agree with one plain reader."""

from __future__ import annotations

import random
import time
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.datagen import generate_rows
from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.buckets import DIRECT_MAX_DIGEST_BITS, buckets_in, read_bucket
from risklist_loader.csv_feed import CsvFeed
from risklist_loader.fast_rows import FastRows
from risklist_loader.lines import Line
from risklist_loader.parallel import ChunkResult, WorkerSetup, read_rejects, run_chunks
from risklist_loader.rows import FIELDS, FeedRow
from risklist_loader.spool import read_entries, tail_path
from risklist_loader.timestamps import parse_timestamp
from risklist_loader.validate import RowValidator, ValidRow
from risklist_loader.worker_pool import load_pool
from risklist_server.core.mutation import Upsert
from risklist_server.core.record import contribution_tail
from risklist_server.core.settings import Settings

SECRET = NetworkSecret(bytes(range(32)))
NOW = int(time.time())
HEADER = ",".join(FIELDS)


def messy_lines(count: int, seed: int) -> list[str]:
    """Valid generated rows mixed with every kind of trouble a feed line can hold."""
    rng = random.Random(seed)
    good = [row.csv_line() for row in generate_rows(count, seed)]
    lines: list[str] = []
    for line in good:
        roll = rng.random()
        if roll < 0.03:
            lines.append("")
        elif roll < 0.05:
            lines.append(line.replace("add,", "ADD ,", 1))
        elif roll < 0.07:
            lines.append(line + "\r")
        elif roll < 0.09:
            lines.append(line.replace(",", ',"', 1).replace(",", '",', 2).replace('",', ",", 1))
        elif roll < 0.11:
            lines.append(line.replace("add", "ad", 1))
        elif roll < 0.13:
            lines.append(line[: len(line) // 2])
        elif roll < 0.15 and lines:
            lines.append(rng.choice(lines))  # a duplicate (or a copy of a bad line)
        elif roll < 0.17:
            lines.append(line.replace("2025", "２０２５", 1).replace("2026", "2026", 1))
        elif roll < 0.19:
            lines.append(line.rsplit(",", 1)[0] + ",ref\tTAB")
        elif roll < 0.2:
            lines.append("café," + line)
        lines.append(line)
    return lines


def setup_for(feed: Path, workdir: Path, snapshot: bool = False) -> WorkerSetup:
    (workdir / "buckets").mkdir(parents=True, exist_ok=True)
    return WorkerSetup(feed, "csv", FIELDS, "bank-a", snapshot, "CN", SECRET.key, Settings(), NOW, workdir,
                       workdir / "buckets")


def outcome(results: list[ChunkResult], workdir: Path) -> tuple[list[tuple[object, ...]], list[object], bytes]:
    """Every accepted row's entry and tail in line order (from the chunks' spools, or from the buckets pass 1
    wrote), and the rejects."""
    rejects = [row for result in results for row in read_rejects(result)]
    if all(result.spool is not None for result in results):
        entries = [tuple(entry) for result in results for entry in read_entries(result.spool).tolist()]
        tails = b"".join(tail_path(result.spool).read_bytes() for result in results)
        return entries, rejects, tails
    assert all(result.spool is None and result.writer is not None for result in results)
    writers = sorted({result.writer for result in results if result.writer is not None})
    rows: list[tuple[tuple[object, ...], bytes]] = []
    for bucket in buckets_in(workdir / "buckets"):
        held = read_bucket(workdir / "buckets", bucket, writers)
        offsets = held.offsets.tolist()
        rows += [(tuple(entry), held.tails[offsets[place] : offsets[place + 1]].tobytes())
                 for place, entry in enumerate(held.entries.tolist())]
    rows.sort(key=lambda row: int(row[0][3]))  # by feed line
    return [entry for entry, _ in rows], rejects, b"".join(tail for _, tail in rows)


@pytest.mark.parametrize("ending", ["\n", ""])
@pytest.mark.parametrize("direct_max_bits", [DIRECT_MAX_DIGEST_BITS, -1], ids=["into-buckets", "into-spools"])
def test_chunks_and_workers_agree_with_one_reader(tmp_path: Path, ending: str, direct_max_bits: int) -> None:
    """Tiny chunks over two worker processes give the entries and rejects of a single pass, in order, whether
    pass 1 puts the rows into the buckets itself or into spools."""
    feed = tmp_path / "feed.csv"
    feed.write_bytes(("\n".join([HEADER, *messy_lines(400, 3)]) + ending).encode())
    start = len(HEADER) + 1
    size = feed.stat().st_size
    one = list(run_chunks(setup_for(feed, tmp_path / "one"), start, 2, size, direct_max_bits=direct_max_bits))
    with load_pool(2, forked=True) as pool:
        many = list(run_chunks(setup_for(feed, tmp_path / "many"), start, 2, size, chunk_bytes=700, pool=pool,
                               direct_max_bits=direct_max_bits))
    assert len(one) == 1 and len(many) > 20
    if direct_max_bits >= 0:
        assert len({result.writer for result in many}) == 2, "both workers should have written rows"
    assert outcome(many, tmp_path / "many") == outcome(one, tmp_path / "one")
    assert sum(result.rows for result in many) == sum(result.rows for result in one)
    assert outcome(one, tmp_path / "one")[1], "the feed should hold rejected rows"


def test_fatal_problem_stops_at_its_line(tmp_path: Path) -> None:
    """A NUL byte stops pass 1 at its line; the chunk reports it, with the rows before it."""
    lines = messy_lines(200, 4)
    lines[150] = lines[150] + "\x00"
    feed = tmp_path / "feed.csv"
    feed.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode())
    with load_pool(2, forked=True) as pool:
        results = list(run_chunks(setup_for(feed, tmp_path), len(HEADER) + 1, 2, feed.stat().st_size,
                                  chunk_bytes=900, pool=pool))
    fatal = [result.fatal for result in results if result.fatal]
    assert fatal and fatal[0][1] == 152 and "NUL" in fatal[0][0]


def general(row_line: str, number: int) -> tuple[bytes, int, int, bytes] | None:
    """What the general path makes of one line: (key, action (3: an expired add), category, tail), or None."""
    validator = RowValidator("bank-a", Normaliser("CN"), Digester(SECRET), Settings(), NOW)
    read = CsvFeed((), FIELDS).read_line(Line(number, row_line))
    if not isinstance(read, FeedRow):
        return None
    checked = validator.validate(read)
    if not isinstance(checked, ValidRow):
        return None
    mutation = checked.mutation
    if isinstance(mutation, Upsert):
        action = 3 if checked.expired else 1
        return mutation.key, action, int(mutation.contribution.category), contribution_tail(mutation.contribution)
    return mutation.key, 2, int(mutation.category or 0), b""


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_rows_agree_with_the_general_path(seed: int) -> None:
    """Every line the fast path accepts gives the general path's mutation; the generated rows all go fast."""
    fast = FastRows(FIELDS, Normaliser("CN"), SECRET, Settings(), NOW)
    rng = random.Random(seed)
    taken = 0
    variants = ["2026-13-01", "1969-12-31T23:00:00Z", "2026-02-29", "2026-03-01T24:00:00Z",
                "2026-03-01T08:00:00+24:00", "2026-03-01T08:00:00-03:30", "2099-01-01", "2026-03-01t08:00:00Z",
                "2026-03-01T08:00:60Z", " 2026-03-01", "1970-01-01T00:00:00+00:01"]
    for number, line in enumerate(messy_lines(300, seed), start=2):
        candidates = [line]
        parts = line.split(",")
        if len(parts) == len(FIELDS):
            for column in (5, 6):
                changed = list(parts)
                changed[column] = rng.choice(variants)
                candidates.append(",".join(changed))
            changed = list(parts)
            changed[4] = rng.choice(["0", "5", "Low", "LOW", "lOw", "01", ""])
            candidates.append(",".join(changed))
            changed = list(parts)
            changed[0], changed[3] = "remove", rng.choice(["", "gambling", "Gambling", "nope"])
            candidates.append(",".join(changed))
        for candidate in candidates:
            quick = fast.row(candidate.encode())
            if quick is not None:
                taken += 1
                assert quick == general(candidate, number), candidate
    assert taken > 300
    for row in generate_rows(500, seed):
        assert fast.row(row.csv_line().encode()) is not None


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T t][0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}|\.[0-9]+Z)?)?",
                  fullmatch=True),
    st.text(alphabet="0123456789-:TZ+ ", max_size=26),
    st.builds(lambda moment, form, hours, minutes: moment.strftime(form) + f"{hours:+03d}:{minutes:02d}",
              st.datetimes(min_value=datetime(1969, 12, 30), max_value=datetime(2030, 1, 1)),
              st.sampled_from(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]), st.integers(-23, 23),
              st.integers(0, 59)),
    st.builds(lambda moment, form: moment.strftime(form),
              st.datetimes(min_value=datetime(1969, 12, 30), max_value=datetime(2030, 1, 1)),
              st.sampled_from(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%SZ"])),
))
def test_fast_timestamps_agree_with_parse_timestamp(text: str) -> None:
    """A timestamp the fast path reads is read as parse_timestamp reads it."""
    fast = FastRows(FIELDS, Normaliser("CN"), SECRET, Settings(), NOW)
    seconds = fast._timestamp(text)
    if seconds is not None:
        assert seconds == parse_timestamp(text)
