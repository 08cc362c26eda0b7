"""The values that flow through the pipeline, in one place: accounts, money, decisions, letters.

Every stage takes and returns these small frozen records; none of them knows how it is read,
rendered or stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from addresses.model import PostalAddress

if TYPE_CHECKING:
    from letters.intake.policy import Stage


def format_money(amount: Decimal, currency: str = "USD") -> str:
    """`$1,234.56` for USD, `EUR 1,234.56` otherwise; negative amounts with a minus sign."""
    sign = "-" if amount < 0 else ""
    figure = f"{abs(amount):,.2f}"
    return f"{sign}${figure}" if currency == "USD" else f"{sign}{currency} {figure}"


def luhn_digit(digits: str) -> str:
    """The Luhn check digit for a string of digits (ISO/IEC 7812-1)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def reference_candidate(account_id: str, attempt: int = 0) -> str:
    """An account's `attempt`-th candidate payment reference, `4821-0937-551`: ten digits from a
    hash of the account id (and, after the first, the attempt) and a Luhn check digit. The state
    registers the first candidate no other account holds (`StateStore.payment_reference`)."""
    salt = f"\0{attempt}" if attempt else ""
    data = f"{account_id}{salt}".encode()
    digest = hashlib.sha256(b"letters-payment-reference\0" + data)
    digits = f"{int.from_bytes(digest.digest()[:8], 'big') % 10**10:010d}"
    digits += luhn_digit(digits)
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


def payment_reference(account_id: str) -> str:
    """The account's first candidate payment reference: what sample letters (template check,
    preview, proof) print. A run prints the one the state registered for the account."""
    return reference_candidate(account_id)


@dataclass(frozen=True, slots=True)
class Account:
    """One overdue account as read from the accounts file."""

    account_id: str
    customer_id: str
    full_name: str
    creditor: str
    original_creditor: str
    account_number: str
    currency: str
    itemization_date: date
    amount_at_itemization: Decimal
    interest_since: Decimal
    fees_since: Decimal
    payments_since: Decimal
    balance: Decimal
    due_date: date
    language: str
    email: str
    cease_communication: bool
    bankruptcy: bool
    attorney_name: str
    attorney_address: str
    deceased: bool
    dispute_open: bool
    hardship: bool
    time_barred: bool
    large_print: bool
    line: int
    representative_name: str = ""  # for a deceased debtor: who acts for the estate
    representative_address: str = ""

    @property
    def account_number_last4(self) -> str:
        """The account number truncated for printing: only its last four characters."""
        return self.account_number[-4:]

    @property
    def payment_reference(self) -> str:
        """The account's first candidate reference (sample letters); a run prints the
        registered one (`StateStore.payment_reference`)."""
        return payment_reference(self.account_id)


@dataclass(frozen=True, slots=True)
class LetterKey:
    """A letter's identity across runs: debtor, stage, delinquency cycle and recipient role.

    The cycle is the oldest due date among the letter's accounts: a debtor who pays and falls
    behind again starts a new cycle, and may get the same stage again. `text` is the form the
    state stores (`customer|stage|cycle`, with `|role` for anyone but the debtor).
    """

    customer_id: str
    stage: str
    cycle: str
    role: str = "debtor"

    @property
    def text(self) -> str:
        """The stored form of the key."""
        key = f"{self.customer_id}|{self.stage}|{self.cycle}"
        return key if self.role == "debtor" else f"{key}|{self.role}"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class PieceId:
    """A letter's piece id: its batch and its number there (`20261120-021502-a3f9-000001`)."""

    batch_id: str
    number: int

    @property
    def text(self) -> str:
        """The printed and stored form."""
        return f"{self.batch_id}-{self.number:06d}"

    @classmethod
    def parse(cls, text: str) -> PieceId:
        """Read a stored piece id back into its batch and number."""
        batch_id, _, number = text.rpartition("-")
        return cls(batch_id, int(number))

    def __str__(self) -> str:
        return self.text


class Status(StrEnum):
    """An account's outcome in the manifest."""

    GENERATED = "generated"
    HELD = "held"
    SUPPRESSED = "suppressed"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class EarlierLetter:
    """A letter the state holds as sent to a debtor: what a later letter may say about it."""

    piece_id: str
    mail_date: date | None
    stage: str
    kind: str  # validation, demand, hardship
    role: str  # debtor, attorney, representative: who it went to
    cycle: str
    channel: str = "letter"


@dataclass(frozen=True, slots=True)
class History:
    """What earlier batches did for one debtor (never the batch being run)."""

    sent: Mapping[str, str] = field(default_factory=dict)  # letter key -> "piece P in batch B"
    last_mail_date: date | None = None
    validation_sent: bool = False
    validation_mail_date: date | None = None  # when the last validation notice was mailed
    forced: frozenset[str] = frozenset()  # keys an operator forced to go again: no frequency cap
    earlier: tuple[EarlierLetter, ...] = ()  # every letter sent, oldest first


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who the letter is addressed to, and where."""

    name: str
    role: str  # debtor, attorney, representative
    address: PostalAddress | None
    confidence: float
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one account, and why."""

    account: Account
    status: Status
    reason_code: str
    reason_detail: str
    stage: Stage | None
    days_past_due: int


@dataclass(frozen=True, slots=True)
class LetterSpec:
    """One letter to produce: its kind, template, recipient, dates and accounts."""

    customer_id: str
    key: LetterKey
    kind: str  # validation, demand, hardship
    stage: Stage
    template: str
    language: str
    mail_class: str
    mail_date: date
    validation_end_date: date | None
    first_contact: bool
    large_print: bool
    time_barred: bool
    recipient: Recipient
    decisions: tuple[Decision, ...]
    notes: tuple[str, ...] = ()
    earlier: tuple[EarlierLetter, ...] = ()  # sent before to this recipient in this cycle
    payment_plan_offered: bool = False  # an earlier letter of this cycle offered a plan
    english_notice_before: bool = False  # an English validation notice went before (1006.34(e))


# Channels besides the letter. Regulation F's safe harbour for e-mail (12 CFR 1006.6(d)(4)): the
# consumer used the address to write to us, or consented to it, or the creditor gave notice with
# at least 35 days to opt out, or a prior collector met one of these.
CONSENT_BASES = ("consumer_used", "consent", "creditor_notice", "prior_collector")


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """One way to reach a debtor besides the postal address (today: an e-mail address), with
    what we know of the consumer's consent for it."""

    customer_id: str
    channel: str  # email
    value: str  # the address as given, its domain lower-cased
    consent_basis: str  # one of CONSENT_BASES, or "" when there is none
    consent_date: date | None
    esign_consent: bool  # E-SIGN consent: the validation notice may go electronically
    opted_out_at: date | None
    is_work: bool  # known to be provided by the consumer's employer
    where: str  # the row it came from, `contacts.csv:12`


@dataclass(frozen=True, slots=True)
class ChannelDecision:
    """What happens on one channel besides the letter for one debtor at one stage, and why."""

    customer_id: str
    channel: str
    stage: str
    status: Status  # generated (queued), held or suppressed
    reason_code: str
    reason_detail: str
    account_ids: tuple[str, ...]
    address: str = ""  # the contact point used or refused (never printed in logs)


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """One e-mail to render and queue: to whom, for which stage, and the letter it may carry."""

    customer_id: str
    key: str  # `customer|stage|cycle|email`: at most one per stage and cycle
    channel: str
    kind: str  # validation, demand, hardship
    stage: Stage
    template: str  # the folder-relative name without extension: `email/reminder`
    language: str
    to: str
    name: str
    accounts: tuple[Account, ...]
    zip5: str  # the debtor's mailing ZIP: the time zone, and the attachment's password
    attach_letter_key: str = ""  # the letter of this batch whose PDF goes attached, encrypted
    state: str = ""  # the mailing address's state: the state notices a letter there carries
    first_contact: bool = True  # no letter went to the debtor before
    decision: ChannelDecision | None = None
