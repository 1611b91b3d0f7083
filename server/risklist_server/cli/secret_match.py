"""Before a command line tool sends digests it made itself: is the server's network secret the one it holds?"""

from __future__ import annotations

import os
from collections.abc import Callable

import grpc
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.secret import SECRET_FILE_ENV
from risklist_server.core.errors import SecretMismatch


def secret_origin(secret_file: str | os.PathLike[str] | None) -> str:
    """Where the secret was read from, as a user would recognise it: the file, or the variable naming it."""
    if secret_file is not None:
        return f"the secret file {secret_file}"
    return f"the secret file ${SECRET_FILE_ENV} names ({os.environ.get(SECRET_FILE_ENV, '')})"


def require_same_secret(
    ask: Callable[[], pb.GetNetworkInfoResponse], fingerprint: str, *, server: str, origin: str,
    nothing_done: str,
) -> bool:
    """Raise SecretMismatch unless the server's fingerprint (`ask()`: its GetNetworkInfo) is `fingerprint`
    (NetworkSecret.fingerprint of the secret this tool digests with, read from `origin`).

    Returns False (nothing compared) when the server predates GetNetworkInfo (UNIMPLEMENTED); any
    other RPC error propagates. `nothing_done` ends the message: what was not sent or applied.
    """
    try:
        info = ask()
    except grpc.RpcError as error:
        if isinstance(error, grpc.Call) and error.code() is grpc.StatusCode.UNIMPLEMENTED:
            return False
        raise
    if info.secret_fingerprint != fingerprint:
        raise SecretMismatch(
            f"{origin} holds another network secret than the server at {server} (this secret's fingerprint "
            f"{fingerprint}, the server's {info.secret_fingerprint or 'none'}): digests made with it "
            f"match nothing the server lists, so every answer would be a false 'not listed'. Use the secret "
            f"file of the network that server serves (its operator can tell: the server logs its "
            f"secret_fingerprint at start), or point at that network's server. {nothing_done}"
        )
    return True
