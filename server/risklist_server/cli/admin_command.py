"""The shape of a `risklist-admin` subcommand, so each lives in its own module."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from risklist_kernel.errors import RiskListError


class UsageError(RiskListError):
    """The command line asks for something impossible (exit 2)."""


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its name, help, arguments and what it runs (exit code; RiskListError: exit 1)."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
