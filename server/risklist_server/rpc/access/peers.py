"""The client addresses whose connections carried a call the gate admitted: members', never a stranger's."""

from __future__ import annotations


class AuthenticatedPeers:
    """grpc peer strings ("ipv4:10.0.0.7:51514") of connections that carried an admitted call.

    The gate adds one per admitted call (a set add: the hot path pays nothing more); the
    connection shedder reads them to spare members' connections and drops those that are gone.
    """

    def __init__(self) -> None:
        self._peers: set[str] = set()

    def add(self, peer: str) -> None:
        self._peers.add(peer)

    def __len__(self) -> int:
        return len(self._peers)

    def snapshot(self) -> frozenset[str]:
        """The peers seen so far (a copy, safe to read while calls go on)."""
        return frozenset(self._peers)

    def forget(self, gone: set[str]) -> None:
        """Drop peers whose connections are closed (addresses and ports are reused)."""
        self._peers.difference_update(gone)
