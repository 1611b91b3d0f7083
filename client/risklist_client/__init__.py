"""risklist partner SDK: RiskListClient checks subjects with local digests and a live pre-screen filter; a Watchlist
alerts when the bank's own subjects are listed, changed or cleared.

Identifier types, the network secret and the shared errors come from the kernel the SDK is
built on (risklist_kernel: enums, secret, errors), installed with it; docs/client.md shows both.
"""

from __future__ import annotations

from risklist_client.alerts import Alert, AlertKind
from risklist_client.client import RiskListClient
from risklist_client.contributions import Contribution, Entry, Report, ReportResult, RevokeResult
from risklist_client.errors import CheckFailed, InvalidTarget, SecretMismatch
from risklist_client.metrics import ClientMetrics
from risklist_client.result import CheckResult
from risklist_client.watchlist import Watchlist

__all__ = ["Alert", "AlertKind", "CheckFailed", "CheckResult", "ClientMetrics", "Contribution", "Entry",
           "InvalidTarget", "Report", "ReportResult", "RevokeResult", "RiskListClient", "SecretMismatch", "Watchlist"]
