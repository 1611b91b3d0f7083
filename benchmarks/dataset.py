"""The benchmark's data, cached under benchmarks/data/ by size and seed: feed, secret, store, queries."""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks import datagen
from risklist_kernel.digest import Digester
from risklist_kernel.enums import EntityType
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret, write_secret

DATA = Path(__file__).parent / "data"
SOURCE = "bench-network"
"""The single --source the mixed feed is loaded under (datagen's second reports use other categories)."""
HIT_RATIO = 0.01


@dataclass(frozen=True, slots=True)
class Queries:
    """One query stream: raw (entity type, value) pairs, their storage keys, which are listed."""

    values: list[tuple[str, str]]
    keys: list[bytes]
    hits: list[bool]

    def __len__(self) -> int:
        return len(self.keys)


def count_label(count: int) -> str:
    """10_000_000 -> '10m', 200_000 -> '200k', 1234 -> '1234'."""
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    if count % 1_000 == 0:
        return f"{count // 1_000}k"
    return str(count)


@dataclass(frozen=True, slots=True)
class Dataset:
    """Paths of one (entries, seed) data set; nothing is built until asked for."""

    entries: int
    seed: int
    root: Path = DATA

    @property
    def name(self) -> str:
        """Size, seed and datagen's anchor month (its rows' dates move with it, so a new month is new data)."""
        return f"{count_label(self.entries)}-seed{self.seed}-{datagen.ANCHOR:%Y%m}"

    @property
    def secret(self) -> NetworkSecret:
        """A fixed secret per seed, so cached digests stay valid (benchmark data only)."""
        return NetworkSecret(hashlib.sha256(f"risklist-bench-secret-{self.seed}".encode()).digest())

    @property
    def secret_file(self) -> Path:
        path = self.root / f"bench-seed{self.seed}.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_secret(path, self.secret)
        return path

    @property
    def feed(self) -> Path:
        return self.root / f"feed-{self.name}.csv"

    @property
    def store(self) -> Path:
        return self.root / f"store-{self.name}"

    def ensure_feed(self) -> Path:
        """The mixed CSV feed of `entries` subjects (~entries × 1.1 rows), generated once."""
        if not self.feed.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            partial = self.feed.with_suffix(".partial.csv")
            subprocess.run([sys.executable, "-m", "benchmarks.datagen", "--entries", str(self.entries),
                            "--seed", str(self.seed), "--out", str(partial)],
                           check=True, stdout=subprocess.DEVNULL)
            partial.rename(self.feed)
        return self.feed

    def feed_rows(self) -> int:
        """Data rows of the feed (its lines less the header)."""
        with self.ensure_feed().open("rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b"")) - 1

    def queries(self, count: int) -> Queries:
        """`count` queries, 99% misses and 1% Zipf-drawn hits, shuffled; cached with their keys."""
        path = self.root / f"queries-{self.name}-{count_label(count)}.pickle"
        if path.exists():
            loaded: Queries = pickle.loads(path.read_bytes())
            return loaded
        hits = max(1, round(count * HIT_RATIO))
        misses = datagen.miss_values(count - hits, self.seed)
        listed = datagen.listed_values(self.entries, self.seed, hits)
        labelled = [(value, False) for value in misses] + [(value, True) for value in listed]
        random.Random(self.seed).shuffle(labelled)
        values = [value for value, _ in labelled]
        queries = Queries(values, storage_keys(values, self.secret), [hit for _, hit in labelled])
        self.root.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(queries, protocol=pickle.HIGHEST_PROTOCOL))
        partial.rename(path)
        return queries


def storage_keys(values: list[tuple[str, str]], secret: NetworkSecret) -> list[bytes]:
    """The server's storage keys of raw (entity type name, value) pairs, computed in-process."""
    normaliser, digester = Normaliser(), Digester(secret)
    keys = []
    for type_name, raw in values:
        entity_type = EntityType.from_feed_name(type_name)
        keys.append(digester.storage_key(entity_type, normaliser.normalise(entity_type, raw)))
    return keys


def copy_store(source: Path, target: Path) -> Path:
    """A private working copy of a store: SST files hard-linked (RocksDB never rewrites them),
    everything else copied, so the copy's writes never reach the cached original."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for entry in os.scandir(source):
        destination = target / entry.name
        if entry.is_dir():
            shutil.copytree(entry.path, destination)
        elif entry.name.endswith(".sst"):
            os.link(entry.path, destination)
        else:
            shutil.copy2(entry.path, destination)
    return target
