"""Pass 1 on every core: the feed split into byte ranges of whole lines, each validated into its own spool.

The parent reads the CSV header itself; workers (the load's pool, risklist_loader.worker_pool: they share
nothing with the open store) take ranges of lines, run the fast path or else the general one (LineReader's
line rules, CsvFeed/JsonlFeed, RowValidator) on each line, and write the accepted mutations to the key-range
buckets (risklist_loader.buckets.BucketWriter) or, for the biggest feeds, to a spool per chunk, and the
rejects to a side file. Results come back in feed order, so the parent sees exactly the sequence of
rows a single reader would. Which rows take effect is decided afterwards, bucket by bucket
(risklist_loader.ordering).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_loader.buckets import DIRECT_MAX_DIGEST_BITS, BucketLayout, BucketWriter, direct_layout
from risklist_loader.csv_feed import CsvFeed
from risklist_loader.errors import FeedError
from risklist_loader.fast_rows import FastRows
from risklist_loader.jsonl_feed import JsonlFeed
from risklist_loader.lines import line_from_bytes
from risklist_loader.rows import BadRow
from risklist_loader.spool import SpoolWriter
from risklist_loader.validate import RowValidator, ValidRow
from risklist_loader.vector_rows import ColumnRows
from risklist_loader.worker_pool import CHUNK_BYTES, Workers
from risklist_server.core.settings import Settings

TRUNCATED_SNAPSHOT = (
    "the last line is cut short, so the file looks truncated; a snapshot of a truncated file would "
    "remove every contribution it lost; export the file again"
)

RejectRow = tuple[int, list[tuple[str, str]]]
"""One rejected row: its line and (field, reason) per problem."""


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """Everything a worker needs to validate rows like the parent would."""

    feed: Path
    feed_format: str
    columns: tuple[str, ...]
    source: str
    snapshot: bool
    default_region: str
    secret_key: bytes
    settings: Settings
    now: int
    workdir: Path
    """Where chunks' spools go."""
    bucket_dir: Path
    """Where chunks' rows go when pass 1 fills the buckets itself."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Lines [first_line, ...) of bytes [start, end) of the feed; `end` is a line start or EOF."""

    index: int
    start: int
    end: int
    first_line: int
    layout: BucketLayout | None = None
    """The buckets' layout when the chunk's rows go straight into them; None: into a spool of the chunk."""


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What one chunk held: counts, its spool, its rejects file, and a fatal error if it hit one."""

    index: int
    end: int
    """The byte offset where the chunk ends."""
    rows: int
    valid: int
    rejected: int
    spool: Path | None
    """The chunk's spool, when its rows did not go straight into the buckets."""
    writer: int | None
    """The buckets' writer that took the chunk's rows (its worker's process id), when they went there."""
    rejects: Path | None
    fatal: tuple[str, int, str] | None
    """A problem that stops the load: (message, line, field), as FeedError carries them."""


def split(path: Path, start: int, size: int, chunk_bytes: int = CHUNK_BYTES) -> list[tuple[int, int]]:
    """Byte ranges [a, b) covering [start, size), each ending just after an LF (or at EOF)."""
    ranges: list[tuple[int, int]] = []
    with path.open("rb") as stream:
        position = start
        while position < size:
            target = position + chunk_bytes
            if target >= size:
                ranges.append((position, size))
                break
            stream.seek(target)
            stream.readline()
            end = min(stream.tell(), size)
            ranges.append((position, end))
            position = end
    return ranges


def count_lines(path: Path, start: int, end: int) -> int:
    """LF bytes in [start, end) of the file."""
    with path.open("rb") as stream:
        stream.seek(start)
        return _read_exactly(stream, end - start).count(b"\n")


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise FeedError("the feed file changed while it was being read; load it again when it is complete")
    return data


def _count(span: tuple[Path, int, int]) -> int:
    return count_lines(*span)


def _run_chunk(task: tuple[WorkerSetup, Chunk]) -> ChunkResult:
    return validate_chunk(*task)


def validate_chunk(setup: WorkerSetup, chunk: Chunk) -> ChunkResult:
    """Validate every line of one chunk into its spool; stop at a fatal problem, as a reader would."""
    secret = NetworkSecret(setup.secret_key)
    normaliser = Normaliser(setup.default_region)
    digester = Digester(secret)
    validator = RowValidator(setup.source, normaliser, digester, setup.settings, setup.now)
    fast = (FastRows(setup.columns, normaliser, secret, setup.settings, setup.now)
            if setup.feed_format == "csv" else None)
    feed: CsvFeed | JsonlFeed = CsvFeed((), setup.columns) if setup.feed_format == "csv" else JsonlFeed(())
    spool_path: Path | None = None
    writer: int | None = None
    spool: SpoolWriter
    if chunk.layout is None:
        spool_path = setup.workdir / f"spool.{chunk.index:06d}"
        spool = SpoolWriter(spool_path)
    else:
        writer = os.getpid()
        spool = BucketWriter(setup.bucket_dir, chunk.layout, writer)
    rejects: list[RejectRow] = []
    rows = valid = written = 0
    fatal: tuple[str, int, str] | None = None
    try:
        with setup.feed.open("rb") as stream:
            stream.seek(chunk.start)
            data = _read_exactly(stream, chunk.end - chunk.start)
        fast_ok = fast is not None and b"\x00" not in data
        pieces = data.split(b"\n")
        terminated_last = data.endswith(b"\n")
        if terminated_last:
            pieces.pop()
        last = len(pieces) - 1
        columns = ColumnRows(setup.columns, fast).rows(data) if fast_ok and fast is not None else None
        write = spool.write_raw
        for position in (columns.left_over if columns is not None else range(len(pieces))):
            if columns is not None:
                written = columns.write_before(spool, position, written, chunk.first_line)
            piece = pieces[position]
            number = chunk.first_line + position
            if fast_ok and fast is not None:
                quick = fast.row(piece[:-1] if piece.endswith(b"\r") else piece)
                if quick is not None:
                    rows += 1
                    valid += 1
                    write(quick[0], quick[1], quick[2], number, quick[3])
                    continue
            terminated = terminated_last or position != last
            row = feed.read_line(line_from_bytes(number, piece, terminated))
            if row is None:
                continue
            rows += 1
            if isinstance(row, BadRow):
                if row.truncated and setup.snapshot:
                    raise FeedError(TRUNCATED_SNAPSHOT, line=row.line, field="row")
                rejects.append((row.line, [(reject.field, reject.reason) for reject in row.rejects]))
                continue
            checked = validator.validate(row)
            if isinstance(checked, ValidRow):
                spool.write(row.line, checked.mutation, expired=checked.expired)
                valid += 1
            else:
                rejects.append((row.line, [(reject.field, reject.reason) for reject in checked]))
        if columns is not None:
            written = columns.write_before(spool, len(pieces), written, chunk.first_line)
    except FeedError as error:
        fatal = (str(error), error.line, error.field)
    finally:
        spool.close()
    rows += written  # the rows the column path spooled (up to a fatal line, as a reader would have)
    valid += written
    rejects_path = None
    if rejects:
        rejects_path = setup.workdir / f"rejects.{chunk.index:06d}"
        with rejects_path.open("wb") as handle:
            pickle.dump(rejects, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return ChunkResult(chunk.index, chunk.end, rows, valid, len(rejects), spool_path, writer, rejects_path, fatal)


def read_rejects(result: ChunkResult) -> list[RejectRow]:
    """The rejected rows of one chunk, in line order."""
    if result.rejects is None:
        return []
    with result.rejects.open("rb") as handle:
        rows: list[RejectRow] = pickle.load(handle)
    return rows


def run_chunks(setup: WorkerSetup, data_start: int, first_line: int, size: int, *, pool: Workers | None = None,
               chunk_bytes: int = CHUNK_BYTES, direct_max_bits: int = DIRECT_MAX_DIGEST_BITS,
               meanwhile: Callable[[], object] = lambda: None) -> Iterator[ChunkResult]:
    """Validate the feed from byte `data_start` (line `first_line`) on, on `pool`'s workers (None: in this
    process); results in feed order.

    The feed's lines decide the buckets' layout; up to `direct_max_bits` digest bits the chunks' rows go
    straight into setup.bucket_dir's buckets, else into a spool per chunk. `meanwhile` runs in this process once
    the workers have their chunks (first, without workers); what it raises stops them (the caller opens its
    store or channel there: a pool forked from this process was made before it)."""
    spans = split(setup.feed, data_start, size, chunk_bytes)
    if pool is None:
        meanwhile()
        counts = [count_lines(setup.feed, start, end) for start, end in spans]
        yield from (validate_chunk(setup, chunk) for chunk in _chunks(spans, counts, first_line, direct_max_bits))
        return
    counts = list(pool.map(_count, [(setup.feed, start, end) for start, end in spans], chunksize=8))
    results = pool.map(_run_chunk, [(setup, chunk) for chunk in _chunks(spans, counts, first_line, direct_max_bits)])
    meanwhile()
    yield from results


def _chunks(spans: list[tuple[int, int]], counts: list[int], first_line: int, direct_max_bits: int) -> list[Chunk]:
    """The chunks of `spans` (holding `counts` lines), numbered from `first_line`, and where their rows go."""
    direct = direct_layout(sum(counts), direct_max_bits)
    chunks = []
    number = first_line
    for index, ((start, end), lines) in enumerate(zip(spans, counts, strict=True)):
        chunks.append(Chunk(index, start, end, number, direct))
        number += lines
    return chunks
