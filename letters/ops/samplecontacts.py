"""Sample contacts: the debtors' e-mail addresses and what each rests on, for `letters sample`.

A realistic mix for exercising the e-mail gates (12 CFR 1006.6(d)(4), 1006.22(f)(3), 1006.42):
about three debtors in four have an address; of those, a basis of consumer_used, consent,
creditor_notice (some too recent to count yet), prior_collector or none; some E-SIGN consent,
a few opt-outs and employer addresses. Addresses are at example.com, example.net and
example.org only (RFC 2606). The generator has its own seeded random stream, so adding contacts
changed nothing in the other sample files: same seed, same files.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from letters.fsutil import write_csv
from letters.intake.accounts import COLUMNS as ACCOUNT_COLUMNS
from letters.intake.contacts import COLUMNS as CONTACT_COLUMNS
from letters.model import CONSENT_BASES

EMAIL_RATE = 0.75  # debtors with an e-mail address
# The basis of an address: consumer_used, consent, creditor_notice, prior_collector, none.
BASIS_WEIGHTS = dict(zip((*CONSENT_BASES, ""), (35, 25, 15, 5, 20), strict=True))
RECENT_NOTICE_RATE = 0.35  # creditor notices of less than 35 days: not usable yet
ESIGN_RATE = 0.30  # of the addresses with a basis
OPT_OUT_RATE = 0.05
WORK_RATE = 0.07
NOTICE_DAYS = 35
DOMAINS = ("example.com", "example.net", "example.org")
EMPLOYERS = ("northwind", "contoso", "fabrikam", "initech", "globex", "umbrella-freight")
TRUE_SPELLINGS = ("true", "yes", "1")
FALSE_SPELLINGS = ("", "", "false", "no", "0")
# Broken rows, as exports have them: one of each kind in turn.
MALFORMED = ("{name}@example", "{name}.example.com", "{name} @example.com", "{name}@@example.net")
UNKNOWN_BASES = ("verbal", "opt-in", "implied")


@dataclass(frozen=True, slots=True)
class Situation:
    """What one debtor's e-mail address rests on, in the contacts file's terms."""

    basis: str  # one of CONSENT_BASES, or "" for none
    recent_notice: bool = False  # creditor_notice dated less than 35 days before as_of
    esign: bool = False
    opted_out: bool = False
    work: bool = False  # an address the employer provides


@dataclass(frozen=True, slots=True)
class SampleCustomer:
    """A debtor of the sample accounts: id, name and the accounts file's e-mail (or "")."""

    customer_id: str
    full_name: str
    email: str


def customers_of(account_rows: Sequence[Sequence[str]]) -> list[SampleCustomer]:
    """Each customer of the accounts rows once, in file order, with its first e-mail; rows with
    no customer id (broken on purpose) are skipped."""
    cid, name, email = (ACCOUNT_COLUMNS.index(c) for c in ("customer_id", "full_name", "email"))
    found: dict[str, SampleCustomer] = {}
    for row in account_rows:
        if len(row) != len(ACCOUNT_COLUMNS) or not row[cid]:
            continue
        known = found.get(row[cid])
        if known is None or (not known.email and row[email]):
            found[row[cid]] = SampleCustomer(row[cid], row[name], row[email])
    return list(found.values())


def draw_situation(rng: random.Random) -> Situation | None:
    """A debtor's e-mail situation drawn at the sample's rates; None: no address known."""
    if rng.random() >= EMAIL_RATE:
        return None
    basis = rng.choices(list(BASIS_WEIGHTS), weights=list(BASIS_WEIGHTS.values()))[0]
    return Situation(
        basis=basis,
        recent_notice=basis == "creditor_notice" and rng.random() < RECENT_NOTICE_RATE,
        esign=bool(basis) and rng.random() < ESIGN_RATE,
        opted_out=rng.random() < OPT_OUT_RATE,
        work=rng.random() < WORK_RATE,
    )


def _ascii(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word)
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()


def _address(rng: random.Random, customer: SampleCustomer, work: bool) -> str:
    words = [_ascii(w) for w in customer.full_name.split()] or ["debtor"]
    first, last = words[0] or "debtor", words[-1] or "debtor"
    if work:
        return f"{first}.{last}@{rng.choice(EMPLOYERS)}.example.com"
    if customer.email and customer.email.isascii() and rng.random() < 0.8:
        return customer.email  # the one the accounts file has: now with how it was obtained
    local = rng.choice((f"{first}.{last}", f"{first}{last}{rng.randint(1, 99)}",
                        f"{first[0]}{last}{rng.randint(1, 999)}", f"{first}_{last}"))  # fmt: skip
    return f"{local}@{rng.choice(DOMAINS)}"


def _consent_date(rng: random.Random, situation: Situation, as_of: date) -> date | None:
    if situation.basis == "creditor_notice":
        days = rng.randint(3, NOTICE_DAYS - 1) if situation.recent_notice else rng.randint(36, 400)
        return as_of - timedelta(days=days)
    if situation.basis and rng.random() < 0.8:
        return as_of - timedelta(days=rng.randint(20, 900))
    return None


def _flag(rng: random.Random, value: bool) -> str:
    return rng.choice(TRUE_SPELLINGS if value else FALSE_SPELLINGS)


def contact_row(
    rng: random.Random, customer: SampleCustomer, situation: Situation, as_of: date
) -> list[str]:
    """One contacts.csv row (`CONTACT_COLUMNS`) for a debtor in the given situation."""
    consent = _consent_date(rng, situation, as_of)
    opted_out = None
    if situation.opted_out:
        since = (as_of - consent).days if consent else 400
        opted_out = as_of - timedelta(days=rng.randint(1, max(1, min(since, 180))))
    return [
        customer.customer_id,
        "email",
        _address(rng, customer, situation.work),
        situation.basis,
        consent.isoformat() if consent else "",
        _flag(rng, situation.esign),
        opted_out.isoformat() if opted_out else "",
        _flag(rng, situation.work),
    ]


def _broken(rng: random.Random, row: list[str], kind: int) -> list[str]:
    broken = list(row)
    if kind % 2 == 0:
        name = row[2].partition("@")[0]
        broken[2] = rng.choice(MALFORMED).format(name=name)
    else:
        broken[3] = rng.choice(UNKNOWN_BASES)
    return broken


def contact_rows(
    customers: Sequence[SampleCustomer],
    seed: int,
    as_of: date,
    fixed: Mapping[str, Situation | None] | None = None,
    broken: int | None = None,
) -> list[list[str]]:
    """The contacts rows for `customers`: each one's situation from `fixed` when it names the
    customer, else drawn; then `broken` bad rows (default: about 1 in 100, none for under 20
    customers), alternately a malformed address and an unknown consent basis."""
    rng = random.Random(f"letters-sample-contacts:{seed}")
    fixed = fixed or {}
    rows: list[list[str]] = []
    for customer in customers:
        drawn = draw_situation(rng)
        situation = fixed.get(customer.customer_id, drawn)
        if situation is not None:
            rows.append(contact_row(rng, customer, situation, as_of))
    if broken is None:
        broken = max(1, len(rows) // 100) if len(customers) >= 20 else 0
    originals = list(rows)
    for kind in range(broken if originals else 0):
        row = _broken(rng, rng.choice(originals), kind)
        rows.insert(rng.randrange(len(rows) + 1), row)
    return rows


def write_sample_contacts(
    out_dir: Path, account_rows: Sequence[Sequence[str]], seed: int, as_of: date
) -> Path:
    """Write `out_dir/contacts.csv` for the customers of `account_rows` (owner-only)."""
    contacts_path = out_dir / "contacts.csv"
    rows = contact_rows(customers_of(account_rows), seed, as_of)
    write_csv(contacts_path, CONTACT_COLUMNS, rows, for_people=False)
    return contacts_path
