"""One error hierarchy for the hub.

    HubError
    ├── ConfigError              bad or missing configuration (CLI exit 2)
    ├── ConnectorError           a connector could not do its job
    │   ├── RetryableError       try again later (status, retry_after seconds)
    │   ├── FatalConnectorError  auth, permissions, limits spent: a person must act
    │   └── SkippableRecordError one bad record; log it with its id and go on
    ├── DecisionError            the engine could not decide
    ├── StoreError               the store is missing, unmigrated or unreachable
    │   └── StoreUnavailable     it could not be reached: worth trying again later
    ├── GovernanceError          an approval, alert or kill switch request that cannot be done
    │   └── NotFoundError        no such approval or alert
    ├── DataError                a data file or column cannot be read as asked (file, column, row, value)
    │   └── NoRowsError          a header and no rows: an error to learn from, 0 rows to an import
    └── ConflictError            another writer changed it first (a lost compare-and-set): nothing saved

Messages are plain sentences that name the bad value and say what to do.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """Invalid configuration. ``problems`` holds (key path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]] | str):
        if isinstance(problems, str):
            problems = [("", problems)]
        self.problems = problems
        lines = [f"{path}: {msg}" if path else msg for path, msg in problems]
        super().__init__("Invalid configuration:\n  " + "\n  ".join(lines))


class ConnectorError(HubError):
    pass


class RetryableError(ConnectorError):
    """Try again later. ``blocked``: the connector as a whole cannot write now (a daily API limit,
    a push budget), so no push is at fault and none uses up an attempt waiting for it."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None, blocked: bool = False
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.blocked = blocked


class FatalConnectorError(ConnectorError):
    pass


class SkippableRecordError(ConnectorError):
    def __init__(self, external_id: str, reason: str):
        super().__init__(f"record {external_id}: {reason}")
        self.external_id = external_id
        self.reason = reason


class DecisionError(HubError):
    pass


class StoreError(HubError):
    pass


class StoreUnavailable(StoreError):
    """The store did not answer (down, restarting, network): a task retries, a command says so."""


class GovernanceError(HubError):
    pass


class NotFoundError(GovernanceError):
    pass


class DataError(HubError):
    """A user's data file or column cannot be read as asked: names the file, column, row and value."""


class NoRowsError(DataError):
    """The file has a header (``names``) and no rows: a model cannot learn from it, while an import
    of it is an import of 0 rows (its header still checked against the mapping)."""

    def __init__(self, message: str, names: list[str]):
        super().__init__(message)
        self.names = names


class ConflictError(HubError):
    """Another writer changed what this one read (a rollback, a learn step) before it saved: it
    saved nothing, so the other's change stands. Look at the state, then run it again."""
