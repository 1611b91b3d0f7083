"""The certificates and members in force in a serving process: reloaded into its gate when their files change."""

from __future__ import annotations

import hashlib
from pathlib import Path

import structlog

from risklist_server.core.errors import AccessFileError
from risklist_server.rpc.access.config import Security, SecurityFiles, load_security
from risklist_server.rpc.access.gate import Gate
from risklist_server.services.poller import Poller

POLL_SECONDS = 0.5

log = structlog.get_logger("risklist.access")


class AccessWatch:
    """Re-reads --tls-cert, --tls-key, --client-ca and --partners every POLL_SECONDS and applies them to a gate.

    As the policy (services/policy_watch.py): the files' bytes are compared, so an edit within one
    timestamp tick or a rename over a file are both seen. A change whose files all check out is put in
    force at once (`access_reloaded`); one that does not (a bad PEM, a key that is not the certificate's,
    a partners file that does not parse, a file missing) is logged with the file and the reason
    (`access_reload_rejected`) once per distinct content, and the last good configuration stays in force:
    never no certificate, never no members. A process restarted while a file is broken keeps the
    configuration its gate started with (the files as the supervisor checked them at start).
    """

    def __init__(self, gate: Gate, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._gate = gate
        self._files: SecurityFiles | None = gate.security.files
        self._poller = Poller(self.poll, seconds=poll_seconds, name="access-watch", failure_event="access_watch_failed")
        self._seen: bytes | None = None
        self._started = False

    def start(self) -> AccessWatch:
        """Look at the files once now (a restarted worker catches up), then watch them (nothing in --insecure-dev)."""
        if self._files is not None and not self._started:
            self._started = True
            self.poll()
            self._poller.start()
        return self

    def stop(self) -> None:
        self._poller.stop()

    def poll(self) -> None:
        """Look at the files once: apply them if they changed and check out, log why not if they do not."""
        if self._files is None:
            return
        seen = _digest(self._files)
        if seen == self._seen:
            return
        self._seen = seen
        current = self._gate.security
        try:
            security = load_security(self._files)
        except AccessFileError as error:
            log.error("access_reload_rejected", file=error.path, reason=str(error), kept_version=current.version)
            return
        changed = _changed_files(current, security)
        if not changed:
            return
        self._gate.apply(security)
        before, after = current.partners or {}, security.partners or {}
        log.info("access_reloaded", partners=len(after), files=changed, access_version=security.version,
                 added=sorted(set(after) - set(before)), removed=sorted(set(before) - set(after)),
                 changed=sorted(name for name in set(after) & set(before) if after[name] != before[name]))


def _changed_files(current: Security, new: Security) -> list[str]:
    """The flags whose files differ between what is in force and `new`."""
    assert current.tls is not None and new.tls is not None
    return [flag for flag, differs in (
        ("--tls-cert", current.tls.cert_chain != new.tls.cert_chain),
        ("--tls-key", current.tls.private_key != new.tls.private_key),
        ("--client-ca", current.tls.client_ca != new.tls.client_ca),
        ("--partners", current.partners != new.partners),
    ) if differs]


def _digest(files: SecurityFiles) -> bytes:
    """One digest of the four files' bytes (a file that cannot be read counts as its own state)."""
    digest = hashlib.sha256()
    for path in (files.tls_cert, files.tls_key, files.client_ca, files.partners):
        try:
            digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
        except OSError as error:
            digest.update(f"unreadable: {error.errno}".encode())
    return digest.digest()
