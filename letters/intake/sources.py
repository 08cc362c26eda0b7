"""Read every input of a run in full: the accounts file and the address sources."""

from __future__ import annotations

from dataclasses import dataclass

from addresses.csvio import Reject
from addresses.records import (
    SourceFileError,
    SourceRecord,
    UnknownSource,
    read_sources,
    unknown_sources,
)
from letters.errors import InputFileError, UsageError, not_a_file
from letters.intake.accounts import read_accounts
from letters.intake.contacts import read_contacts
from letters.intake.request import RunRequest
from letters.model import Account, ContactPoint


@dataclass(frozen=True, slots=True)
class Inputs:
    """A run's inputs as read: good accounts and address records, every rejected row, and the
    files whose rows name a source the address configuration does not know."""

    accounts: list[Account]
    records: list[SourceRecord]
    rejects: list[Reject]
    unknown_sources: tuple[UnknownSource, ...] = ()
    contacts: tuple[ContactPoint, ...] = ()  # from `--contacts`, rows that passed the checks


def load_inputs(request: RunRequest) -> Inputs:
    """Read every input in full; a file-level problem raises before anything is written."""
    contacts_path = (request.contacts_path,) if request.contacts_path else ()
    for path in (request.accounts_path, *request.source_paths, *contacts_path):
        if not path.is_file():
            raise UsageError(not_a_file(path))
    accounts_file = read_accounts(request.accounts_path)
    try:
        records, source_rejects = read_sources(list(request.source_paths), request.address_config)
    except SourceFileError as exc:
        raise InputFileError(str(exc)) from None
    unknown = tuple(unknown_sources(records, request.address_config))
    contacts, contact_rejects = (
        read_contacts(request.contacts_path, {a.customer_id for a in accounts_file.accounts})
        if request.contacts_path
        else ([], [])
    )
    return Inputs(
        accounts_file.accounts,
        records,
        accounts_file.rejects + source_rejects + contact_rejects,
        unknown,
        tuple(contacts),
    )
