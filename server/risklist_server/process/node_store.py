"""A cluster node's store made ready before its processes start: restored from the cluster's checkpoint, or new.

The supervisor never loads nats or RocksDB, so this runs in a child process of its own (forked, waited for): it
connects to the log, reads where the store stands and what the log and the latest checkpoint hold, and restores
the checkpoint or creates an empty store where risklist.cluster.rejoin says so. Its error comes back as one line.
"""

from __future__ import annotations

import os
import signal

from risklist_server.core.errors import StoreError
from risklist_server.process.config import ServerConfig


def prepare_node_store(config: ServerConfig) -> None:
    """Make `config.db` a store this cluster node can apply the log to; StoreError (one line) if it cannot be."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        code = 0
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, [])  # a stop signal ends a long download
            _prepare(config)
        except BaseException as error:  # noqa: BLE001 - reported to the parent as one line, whatever it is
            os.write(write_end, _one_line(error).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        message = reader.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise StoreError(message or f"preparing the node's store at {config.db} ended with status {status}")


def _one_line(error: BaseException) -> str:
    from risklist_kernel.errors import RiskListError

    if isinstance(error, RiskListError):
        return str(error)
    return f"preparing the node's store failed ({type(error).__name__}): see the log above, then start it again"


def _prepare(config: ServerConfig) -> None:
    from pathlib import Path

    from risklist_server.cluster.checkpoint_bucket import CheckpointBucket
    from risklist_server.cluster.rejoin import restore_checkpoint, restore_reason
    from risklist_server.cluster.write_log import LogSettings, WriteLog
    from risklist_server.store.risk_store import init_store
    from risklist_server.store.store_dir import check_store_dir
    from risklist_server.store.stored_position import stored_position

    cluster = config.cluster
    assert cluster is not None
    db = Path(config.db)
    network = config.secret.fingerprint
    store = None
    if db.exists() and not (db.is_dir() and not any(db.iterdir())):
        check_store_dir(db)
        store = stored_position(db)
    settings = LogSettings(replicas=cluster.replicas, max_bytes=cluster.log_max_bytes)
    with WriteLog(cluster.servers, settings, network=network, auth=cluster.auth).open() as write_log:
        bucket = CheckpointBucket(write_log, replicas=cluster.replicas, network=network)
        if restore_reason(store, write_log.first_sequence(), bucket.latest(), network=network) is not None:
            restore_checkpoint(bucket, db, store, network=network)
        elif store is None:
            init_store(db, network)
