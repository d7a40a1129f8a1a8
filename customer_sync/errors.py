"""Errors a user can cause (exit 2) and failures of a run (exit 1)."""

from __future__ import annotations


class CustomerSyncError(Exception):
    """Base class: printed as one clear line by the CLI."""

    exit_code = 1


class UserError(CustomerSyncError):
    """Bad input or configuration: the user can fix it. Exit code 2."""

    exit_code = 2


class RunFailure(CustomerSyncError):
    """A step ran and failed (a load, a dbt build, a sync). Exit code 1."""

    exit_code = 1
