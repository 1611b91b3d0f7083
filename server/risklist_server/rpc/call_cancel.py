"""Ending a call from another thread than its handler's, with a status and a message the caller can act on."""

from __future__ import annotations

import importlib

import grpc


def end_call(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> None:
    """End the call behind `context` with `code` and `message`; its handler's wait for a message then fails.

    grpc's public ServicerContext.cancel() sends CANCELLED without a message; the server-side call
    object's cancel(code, details) (grpc core's grpc_call_cancel_with_status) sends ours. If a grpc
    release lacks it, the caller still gets CANCELLED, without the explanation.
    """
    call = getattr(getattr(context, "_rpc_event", None), "call", None)
    try:
        if call is not None:
            status_codes = importlib.import_module("grpc._cython.cygrpc").StatusCode
            call.cancel(getattr(status_codes, code.name.lower()), message)
            return
    except (ImportError, AttributeError, TypeError):
        pass
    context.cancel()
