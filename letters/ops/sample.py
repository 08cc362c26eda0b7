"""Realistic sample data: accounts, messy address feeds from several sources, and ground truth.

Cities, states and ZIP codes are real combinations from the bundled `zipcodes` table, so offline
checks that use it are meaningful. Everything comes from one seeded generator:
same seed, same files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import zipcodes

from addresses.model import PostalAddress
from addresses.records import COLUMNS as SOURCE_COLUMNS
from addresses.standardize import clean
from letters.fsutil import make_private_dir, write_csv
from letters.intake.accounts import COLUMNS as ACCOUNT_COLUMNS
from letters.ops.samplecontacts import write_sample_contacts


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    """
    James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
    Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa
    Anthony Betty Mark Sandra Donald Ashley Steven Kimberly Andrew Emily Joshua Donna
    Kenneth Michelle Kevin Carol Brian Amanda Zoë Aaliyah Wei Priya Tyrone Siobhan
    """
)
LAST = _words(
    """
    Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore
    Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright
    Scott Green Baker Adams Nelson Hill Campbell Mitchell O'Brien Nguyen Kim Patel
    Washington Okafor Kowalski Schmidt
    """
)
FIRST_ES = _words(
    """
    José María Juan Guadalupe Luis Carmen Jesús Rosa Miguel Ana Alejandro Sofía
    """
)
LAST_ES = _words(
    """
    García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Peña
    """
)
STREETS = _words(
    """
    Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Sunset Lincoln Jackson Church
    Highland Madison Franklin Jefferson Ridge Spring Meadow Forest River Walnut Chestnut
    Willow Adams Cherry Center Prospect Valley Lakeview Mill Dogwood Hickory Sycamore Laurel
    Magnolia Birch Clinton Monroe Harrison Grant Wilson Union Liberty Broad Market
    """
)
SUFFIXES = (
    ("St", "Street"),
    ("Ave", "Avenue"),
    ("Rd", "Road"),
    ("Blvd", "Boulevard"),
    ("Dr", "Drive"),
    ("Ln", "Lane"),
    ("Ct", "Court"),
    ("Pl", "Place"),
    ("Way", "Way"),
    ("Ter", "Terrace"),
    ("Cir", "Circle"),
    ("Pkwy", "Parkway"),
)
DIRECTIONS = (("N", "North"), ("S", "South"), ("E", "East"), ("W", "West"))
UNITS = (("APT", ("Apt", "Apartment", "#", "Apt.")), ("UNIT", ("Unit",)), ("STE", ("Ste", "Suite")))
FOREIGN = (
    ("10 Downing Street", "", "London", "", "SW1A 2AA", "UNITED KINGDOM"),
    ("350 Rue Saint-Paul Est", "", "Montréal QC", "", "H2Y 1H2", "CANADA"),
    ("Av. Paseo de la Reforma 222", "Col. Juárez", "Ciudad de México CDMX", "", "06600", "MEXICO"),
    ("Friedrichstraße 43", "", "Berlin", "", "10117", "GERMANY"),
)
SOURCE_FILES = ("internal", "customer_updated", "third_party", "returned_mail")
TRUTH_COLUMNS = ("customer_id", "line1", "line2", "city", "state", "zip", "country")
CREDITOR = "Lakeside Community Credit Union"


@dataclass(frozen=True, slots=True)
class TrueAddress:
    """A delivery point in parts, so that it can be spelled many ways."""

    number: str
    predir: int | None
    street: str
    suffix: int
    unit: tuple[int, str] | None
    city: str
    state: str
    zip5: str
    foreign: tuple[str, ...] | None = None

    def standard(self) -> PostalAddress:
        """The Pub 28 form."""
        if self.foreign:
            return PostalAddress(*self.foreign)
        parts = [self.number]
        if self.predir is not None:
            parts.append(DIRECTIONS[self.predir][0])
        parts += [self.street.upper(), SUFFIXES[self.suffix][0].upper()]
        line2 = f"{UNITS[self.unit[0]][0]} {self.unit[1]}" if self.unit else ""
        return PostalAddress(" ".join(parts), line2, clean(self.city), self.state, self.zip5, "US")


@dataclass(frozen=True, slots=True)
class SampleFiles:
    """Where `write_sample` put each file."""

    accounts_path: Path
    source_paths: tuple[Path, ...]
    truth_path: Path
    contacts_path: Path | None = None  # e-mail addresses and their consent (`--contacts`)


def _zip_table() -> list[tuple[str, str, str]]:
    rows = [
        (z["zip_code"], z["city"], z["state"])
        for z in zipcodes.list_all()  # type: ignore[no-untyped-call]
        if z["zip_code_type"] == "STANDARD"
        and z["active"]
        and z["country"] == "US"
        and len(z["state"]) == 2
        and z["state"] not in ("PR", "VI", "GU", "AS", "MP", "PW")
    ]
    return sorted(rows)


class SampleMaker:
    """Draws people, addresses and accounts from one seeded random generator."""

    def __init__(self, seed: int, as_of: date) -> None:
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.zips = _zip_table()

    def address(self) -> TrueAddress:
        rng = self.rng
        zip5, city, state = rng.choice(self.zips)
        unit = None
        if rng.random() < 0.3:
            unit = (
                rng.randrange(len(UNITS)),
                str(rng.randint(1, 40)) + rng.choice(["", "", "A", "B"]),
            )
        return TrueAddress(
            number=str(rng.randint(1, 9999)),
            predir=rng.randrange(4) if rng.random() < 0.25 else None,
            street=rng.choice(STREETS),
            suffix=rng.randrange(len(SUFFIXES)),
            unit=unit,
            city=city,
            state=state,
            zip5=zip5,
        )

    def _typo(self, word: str) -> str:
        rng = self.rng
        if len(word) < 5:
            return word
        i = rng.randrange(1, len(word) - 1)
        kind = rng.randrange(3)
        if kind == 0:
            return word[:i] + word[i + 1 :]
        if kind == 1:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        return word[:i] + rng.choice("aeiourstn") + word[i + 1 :]

    def spell(self, address: TrueAddress, messy: float) -> PostalAddress:
        """One way a feed might spell the address; `messy` in [0, 1] raises the odds of mess."""
        if address.foreign:
            return address.standard()
        rng = self.rng
        mess = rng.random() < messy
        words = [address.number]
        if address.predir is not None:
            words.append(DIRECTIONS[address.predir][1 if mess and rng.random() < 0.5 else 0])
        street = self._typo(address.street) if mess and rng.random() < 0.3 else address.street
        words.append(street)
        words.append(
            SUFFIXES[address.suffix][1 if mess and rng.random() < 0.5 else 0]
            + ("." if mess and rng.random() < 0.2 else "")
        )
        line1, line2 = " ".join(words), ""
        if address.unit and not (mess and rng.random() < 0.25):
            spelling = (
                rng.choice(UNITS[address.unit[0]][1]) if mess else UNITS[address.unit[0]][1][0]
            )
            unit = f"{spelling}{'' if spelling == '#' else ' '}{address.unit[1]}"
            if rng.random() < 0.5:
                line1 = f"{line1} {unit}"
            else:
                line2 = unit
        city = address.city
        if mess and rng.random() < 0.3:
            city = city.lower()
        zip_text = address.zip5
        if rng.random() < 0.15:
            zip_text = f"{zip_text}-{rng.randint(1, 9999):04d}"
        if mess and rng.random() < 0.3:
            line1 = line1.lower()
        country = "US" if rng.random() < 0.7 else ""
        return PostalAddress(line1, line2, city, address.state, zip_text, country)

    def name(self, spanish: bool) -> str:
        rng = self.rng
        if spanish:
            return f"{rng.choice(FIRST_ES)} {rng.choice(LAST_ES)}"
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"

    def days_ago(self, low: int, high: int) -> date:
        return self.as_of - timedelta(days=self.rng.randint(low, high))


def _source_row(
    customer_id: str, source: str, spelled: PostalAddress, seen: date, status: str = ""
) -> list[str]:
    return [customer_id, source, *spelled.fields(), seen.isoformat(), status]


def _flag(rng: random.Random, rate: float) -> str:
    return (
        rng.choice(("true", "yes", "1", "Y"))
        if rng.random() < rate
        else rng.choice(("", "false", "no", "0"))
    )


def account_row(
    maker: SampleMaker, account_id: str, customer_id: str, full_name: str, spanish: bool
) -> list[str]:
    rng = maker.rng
    principal = Decimal(rng.randint(5000, 500000)) / 100
    interest = Decimal(rng.randint(0, 8000)) / 100 if rng.random() < 0.7 else Decimal("0.00")
    fees = Decimal(rng.choice([0, 0, 2500, 3500])) / 100
    payments = (
        Decimal(rng.randint(0, int(principal * 50))) / 100
        if rng.random() < 0.4
        else Decimal("0.00")
    )
    balance = principal + interest + fees - payments
    due = maker.days_ago(-10, 150)
    attorney = rng.random() < 0.01
    deceased = _flag(rng, 0.02)
    representative = ("", "")
    if deceased in ("true", "yes", "1", "Y") and rng.random() < 0.5:
        representative = (f"Pat {full_name.split()[-1]}, Executor",
                          "18 S MICHIGAN AVE STE 300, CHICAGO IL 60603")  # fmt: skip
    return [
        account_id,
        customer_id,
        full_name,
        CREDITOR,
        CREDITOR,
        "".join(str(rng.randint(0, 9)) for _ in range(16)),
        "USD",
        (due - timedelta(days=rng.randint(0, 30))).isoformat(),
        f"{principal:.2f}",
        f"{interest:.2f}",
        f"{fees:.2f}",
        f"{payments:.2f}",
        f"{balance:.2f}",
        due.isoformat(),
        "es" if spanish else "en",
        f"{full_name.split()[0].lower()}{rng.randint(1, 999)}@example.com"
        if rng.random() < 0.6
        else "",
        _flag(rng, 0.01),
        _flag(rng, 0.01),
        "Dana Whitfield, Esq." if attorney else "",
        "77 W WACKER DR STE 4100, CHICAGO IL 60601" if attorney else "",
        deceased,
        _flag(rng, 0.02),
        _flag(rng, 0.05),
        _flag(rng, 0.02),
        _flag(rng, 0.02),
        *representative,
    ]


BROKEN_ACCOUNT_FIELDS = (
    ("balance", "12,0O"),
    ("due_date", "2026-13-01"),
    ("amount_at_itemization", "lots"),
    ("bankruptcy", "maybe"),
    ("customer_id", ""),
)


def _break_account(rng: random.Random, row: list[str]) -> list[str]:
    column, value = rng.choice(BROKEN_ACCOUNT_FIELDS)
    broken = list(row)
    broken[ACCOUNT_COLUMNS.index(column)] = value
    return broken


def generate(
    accounts: int, seed: int, as_of: date
) -> tuple[list[list[str]], dict[str, list[list[str]]], list[list[str]]]:
    """Make the rows of every file in memory: accounts, sources by file name, ground truth."""
    maker = SampleMaker(seed, as_of)
    rng = maker.rng
    account_rows: list[list[str]] = []
    sources: dict[str, list[list[str]]] = {name: [] for name in SOURCE_FILES}
    truth: list[list[str]] = []
    customer = 0
    while len(account_rows) < accounts:
        customer += 1
        customer_id = f"C{customer:07d}"
        spanish = rng.random() < 0.1
        full_name = maker.name(spanish)
        current = maker.address()
        if rng.random() < 0.01:
            current = TrueAddress("", None, "", 0, None, "", "", "", rng.choice(FOREIGN))
        truth.append([customer_id, *current.standard().fields()])
        moved = rng.random() < 0.2
        old = maker.address() if moved else None
        internal_seen = maker.days_ago(200, 900)
        if old is not None:
            sources["internal"].append(
                _source_row(customer_id, "internal", maker.spell(old, 0.1), internal_seen)
            )
            if rng.random() < 0.6:
                sources["returned_mail"].append(
                    [
                        customer_id,
                        *maker.spell(old, 0.3).fields(),
                        maker.days_ago(20, 150).isoformat(),
                        "returned",
                    ]
                )
        else:
            sources["internal"].append(
                _source_row(customer_id, "internal", maker.spell(current, 0.1), internal_seen)
            )
        if moved or rng.random() < 0.35:
            status = "verified_by_customer" if rng.random() < 0.5 else ""
            sources["customer_updated"].append(
                _source_row(
                    customer_id,
                    "customer_updated",
                    maker.spell(current, 0.4),
                    maker.days_ago(1, 120),
                    status,
                )
            )
        if rng.random() < 0.8:
            stale = old is not None and rng.random() < 0.15
            spelled = maker.spell(old if stale and old else current, 0.6)
            sources["third_party"].append(
                _source_row(customer_id, "third_party", spelled, maker.days_ago(5, 400))
            )
        for _ in range(rng.choices((1, 2, 3), weights=(80, 15, 5))[0]):
            account_id = f"A{len(account_rows) + 1:08d}"
            row = account_row(maker, account_id, customer_id, full_name, spanish)
            if rng.random() < 0.01:
                row = _break_account(rng, row)
            account_rows.append(row)
    account_rows = account_rows[:accounts]
    if accounts >= 20:  # one duplicated account_id, as exports sometimes have
        account_rows[-1] = list(account_rows[rng.randrange(len(account_rows) - 1)])
    for name, rows in sources.items():
        for _ in range(max(1, len(rows) // 200)):
            row = list(rng.choice(rows))
            kind = rng.randrange(3)
            width = len(row)
            if kind == 0:
                row[1 if name == "returned_mail" else 2] = ""  # no street line
            elif kind == 1:
                row[-2] = "last tuesday"  # observed_at
            else:
                row = row[: width - 3]  # a truncated export line
            rows.insert(rng.randrange(len(rows) + 1), row)
    return account_rows, sources, truth


def write_sample(out_dir: Path, accounts: int, seed: int, as_of: date) -> SampleFiles:
    """Write accounts.csv, sources/*.csv, ground_truth.csv and contacts.csv under `out_dir`."""
    account_rows, sources, truth = generate(accounts, seed, as_of)
    make_private_dir(out_dir)
    source_dir = make_private_dir(out_dir / "sources")
    write_csv(out_dir / "accounts.csv", ACCOUNT_COLUMNS, account_rows, for_people=False)
    paths = []
    for name, rows in sources.items():
        columns = (
            SOURCE_COLUMNS
            if name != "returned_mail"
            else tuple(c for c in SOURCE_COLUMNS if c != "source")
        )
        write_csv(source_dir / f"{name}.csv", columns, rows, for_people=False)
        paths.append(source_dir / f"{name}.csv")
    write_csv(out_dir / "ground_truth.csv", TRUTH_COLUMNS, truth, for_people=False)
    contacts_path = write_sample_contacts(out_dir, account_rows, seed, as_of)
    return SampleFiles(
        out_dir / "accounts.csv", tuple(paths), out_dir / "ground_truth.csv", contacts_path
    )
