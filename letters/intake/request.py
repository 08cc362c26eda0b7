"""What the operator asked a run to do: inputs, date, policy, templates, state, options."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from addresses.config import EngineConfig
from addresses.records import SourceRecord
from letters.intake.policy import Policy


@dataclass(frozen=True, slots=True)
class NotMailable:
    """A reviewer marked a debtor not mailable: no letter until a source reports an address
    dated after `since`."""

    customer_id: str
    since: date
    detail: str


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything a run needs, as given on the command line."""

    accounts_path: Path
    source_paths: tuple[Path, ...]
    out_dir: Path
    as_of: date
    policy: Policy
    templates_dir: Path
    address_config: EngineConfig = field(default_factory=EngineConfig)
    jobs: int | None = None
    db_path: Path | None = None  # default: $LETTERS_DB, else letters.db in out_dir
    resume: str | None = None  # a batch id to resume
    force: tuple[str, ...] = ()  # piece ids whose letters may be produced again
    force_reason: str = ""
    policy_path: Path | None = None  # the policy file given (None: the shipped default)
    seal_key: Path | None = None  # HMAC key for the batch seal (else the policy's)
    extra_records: tuple[SourceRecord, ...] = ()  # evidence from the state (returned mail)
    not_mailable: tuple[NotMailable, ...] = ()  # reviewers' decisions from the state
    contacts_path: Path | None = None  # e-mail addresses with their consent (`--contacts`)
    cluster: str | None = None  # render on a Dask cluster: tcp://HOST:PORT or local:N
