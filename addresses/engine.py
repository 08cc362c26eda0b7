"""The address engine: standardize (each distinct string once), merge per person, score, choose."""

from __future__ import annotations

import multiprocessing
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date

from addresses.config import EngineConfig
from addresses.merge import merge_groups
from addresses.model import AddressChoice, ChoiceStatus
from addresses.records import SourceRecord
from addresses.score import Candidate, Observation, choose, representative, score_candidate
from addresses.standardize import MEMOS, standardize
from addresses.ziptable import zip_table

AddressKey = tuple[str, str, str, str, str, str]
PARALLEL_MIN = 20_000  # below this many records one process is faster than a pool
CHUNK = 2_000  # people per task
_SHARED: tuple[list[str], dict[str, list[SourceRecord]], EngineConfig, date] | None = None


def address_key(record: SourceRecord) -> AddressKey:
    """The raw address of a record, as the cache key for its standardized form."""
    return (record.line1, record.line2, record.city, record.state, record.zip, record.country)


def build_candidates(
    observations: Sequence[Observation], config: EngineConfig, as_of: date
) -> list[Candidate]:
    """Merge one person's observations into candidates and score each against the others."""
    groups = merge_groups([o.standardized for o in observations])
    raw = []
    for group in groups:
        members = tuple(
            sorted((observations[i] for i in group), key=lambda o: (o.observed_at, o.ref))
        )
        raw.append(Candidate(representative(members, config), members))
    return [score_candidate(candidate, raw, config, as_of) for candidate in raw]


def resolve_person(
    customer_id: str, records: Sequence[SourceRecord], config: EngineConfig, as_of: date
) -> AddressChoice:
    """Resolve one person's address from their records; reports after `as_of` are ignored."""
    observations = [
        Observation(
            r.source,
            r.observed_at,
            r.status,
            standardize(*address_key(r)),
            f"{r.file_name}:{r.line}",
        )
        for r in records
        if r.observed_at <= as_of
    ]
    choice = choose(customer_id, build_candidates(observations, config, as_of), config, as_of)
    flagged = tuple(  # where and which checks, never the address itself (personal data)
        f"{o.ref}: " + ", ".join(c.name for c in o.standardized.hard_failures)
        for o in observations
        if o.standardized.hard_failures
    )
    return replace(choice, flagged=flagged) if flagged else choice


def group_records(records: Iterable[SourceRecord]) -> dict[str, list[SourceRecord]]:
    """Records by customer_id, each list in a canonical order (so input order never matters)."""
    groups: dict[str, list[SourceRecord]] = defaultdict(list)
    for record in records:
        groups[record.customer_id].append(record)
    for group in groups.values():
        group.sort(
            key=lambda r: (r.observed_at, r.source, address_key(r), r.status, r.file_name, r.line)
        )
    return groups


def _compact(choice: AddressChoice) -> AddressChoice:
    """Drop the candidates of a selected address: only held people need them read back."""
    if choice.status is ChoiceStatus.SELECTED:
        return replace(choice, candidates=())
    return choice


def _resolve_range(bounds: tuple[int, int]) -> list[AddressChoice]:
    assert _SHARED is not None
    ids, groups, config, as_of = _SHARED
    return [
        _compact(resolve_person(cid, groups[cid], config, as_of))
        for cid in ids[bounds[0] : bounds[1]]
    ]


def resolve_all(
    records: Sequence[SourceRecord], config: EngineConfig, as_of: date, jobs: int | None = None
) -> Iterator[AddressChoice]:
    """Resolve every person in `records`, in customer_id order, over `jobs` worker processes.

    People are split across processes (each standardizes, merges and scores its own share), so
    the work scales with the cores; selected choices come back without their candidates.
    """
    global _SHARED
    groups = group_records(records)
    ids = sorted(groups)
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(records) < PARALLEL_MIN:
        try:
            for customer_id in ids:
                yield _compact(resolve_person(customer_id, groups[customer_id], config, as_of))
        finally:
            for memo in MEMOS:  # its forms live on in the choices that need them
                memo.cache_clear()
        return
    zip_table()  # load before forking, so that the workers share it
    _SHARED = (ids, groups, config, as_of)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs) as pool:
            ranges = [(i, min(i + CHUNK, len(ids))) for i in range(0, len(ids), CHUNK)]
            for chunk in pool.imap(_resolve_range, ranges):
                yield from chunk
    finally:
        _SHARED = None
