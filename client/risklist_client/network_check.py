"""Is the server's network secret this client's? Asked before the first answer, and again after a reconnect or reset."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import grpc
from risklist.v1 import risklist_pb2 as pb

from risklist_client.errors import CheckFailed, SecretMismatch
from risklist_client.metrics import Counters


class NetworkCheck:
    """Compares the server's secret fingerprint (GetNetworkInfo) with this client's, and remembers the outcome.

    `require()` is what every check calls first: free once the fingerprints matched, else it asks
    the server (SecretMismatch on another fingerprint, CheckFailed when the server cannot say). A
    mismatch is asked again at most every `retry_interval` seconds, so an operator's fix is picked
    up without a restart. `invalidate()` (a reconnect) makes the next check ask again.
    """

    def __init__(
        self,
        ask: Callable[[float], pb.GetNetworkInfoResponse],
        fingerprint: str,
        counters: Counters,
        *,
        target: str,
        deadline: float,
        retry_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`ask(timeout)` calls the server's GetNetworkInfo; `fingerprint` is this client's secret's."""
        self._ask = ask
        self.fingerprint = fingerprint
        self._counters = counters
        self._target = target
        self._deadline = deadline
        self._retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.Lock()
        self.verified = False
        """The server's fingerprint matched, and nothing since said it may have changed."""
        self._mismatch: SecretMismatch | None = None
        self._asked_at = float("-inf")

    def require(self) -> None:
        """Return once the server is known to hold this client's secret; else raise SecretMismatch or CheckFailed."""
        if self.verified:
            return
        with self._lock:
            if self.verified:
                return
            mismatch = self._mismatch
            if mismatch is not None and self._clock() - self._asked_at < self._retry_interval:
                raise SecretMismatch(mismatch.detail)  # a fresh one: no traceback grows across checks
            try:
                self.verify()
            except grpc.RpcError as error:
                code = error.code() if isinstance(error, grpc.Call) else None
                details = error.details() if isinstance(error, grpc.Call) else str(error)
                raise CheckFailed(code.name if code is not None else "UNKNOWN",
                                  f"cannot ask the server which network secret it holds: {details}") from None

    def verify(self) -> None:
        """Ask the server now; SecretMismatch on another fingerprint; a grpc.RpcError propagates."""
        self._asked_at = self._clock()
        try:
            info = self._ask(self._deadline)
        except grpc.RpcError as error:
            if isinstance(error, grpc.Call) and error.code() is grpc.StatusCode.UNIMPLEMENTED:
                self.verified = False
                raise CheckFailed(
                    "UNIMPLEMENTED",
                    f"the server at {self._target} does not say which network secret it holds (no "
                    "GetNetworkInfo: a risklist-server older than this SDK); the SDK answers nothing it cannot "
                    "verify: upgrade the server",
                ) from None
            raise
        self.compare(info.secret_fingerprint, f"the server at {self._target}")
        self._mismatch = None
        self.verified = True

    def compare(self, fingerprint: str, where: str) -> None:
        """SecretMismatch (remembered: checks raise it) unless `fingerprint`, named by `where`, is this client's."""
        if fingerprint == self.fingerprint:
            return
        self.verified = False
        self._counters.add(secret_mismatches=1)
        self._mismatch = SecretMismatch(
            f"{where} holds another network secret than this client (fingerprint {fingerprint or 'none'}, this "
            f"client's {self.fingerprint}): digests made here match nothing it lists, so no check is answered. "
            "Give RiskListClient the secret file of the network this server serves (its operator can tell: the "
            "server logs its secret_fingerprint at start), or point it at that network's server"
        )
        raise self._mismatch

    def invalidate(self) -> None:
        """The connection changed (another server may answer now): the next check asks again."""
        self.verified = False
