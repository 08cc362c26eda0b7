"""A multi-source sample: dated feeds whose names say nothing of their source, configured by glob.

What a collector's input folder looks like: a CRM export, customer updates, an NCOA run, a
skip-trace vendor's file bought for returned mail, a credit bureau feed and the returned mail,
each named by date (`skiptrace_acme_20261115.csv`) and without a `source` column, so that only
the address configuration's `match` globs say what each is. Debtors move; mail to the old
address comes back; a skip-trace report is sometimes wrong or names two addresses. Same seed,
same files; `ground_truth.csv` holds each debtor's true address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from addresses.records import COLUMNS as SOURCE_COLUMNS
from letters.fsutil import make_private_dir, write_csv
from letters.intake.accounts import COLUMNS as ACCOUNT_COLUMNS
from letters.ops.sample import TRUTH_COLUMNS, SampleFiles, SampleMaker, TrueAddress, account_row

FEED_COLUMNS = tuple(c for c in SOURCE_COLUMNS if c != "source")
FEEDS = {  # file name -> (the source its glob maps to in FEED_CONFIG, how messy its spelling)
    "crm_export_20261119.csv": ("internal", 0.1),
    "customer_updated_20261120.csv": ("customer_updated", 0.4),
    "ncoa_20261101.csv": ("change_of_address", 0.05),  # USPS-standardized
    "skiptrace_acme_20261115.csv": ("skip_trace", 0.1),  # vendors return standardized lines
    "tp_bureau_20261110.csv": ("third_party", 0.6),
    "returned_mail_20261118.csv": ("returned_mail", 0.3),
}
FEED_CONFIG = """\
# The multi-source sample's feeds, named by glob (`letters.ops.feeds`)
[sources.internal]
match = ["crm_export_*.csv"]
[sources.change_of_address]
match = ["ncoa_*.csv"]
[sources.third_party]
match = ["tp_*.csv"]
[sources.skip_trace]
weight = 0.55
half_life_days = 180
match = ["skiptrace_*.csv"]
"""
# (scenario, weight): how each debtor's story goes
SCENARIOS = (
    ("stable", 55),  # the CRM address; maybe a customer update and a bureau report agree
    ("moved_customer_update", 12),  # the customer gave the new address (mail came back: 40%)
    ("moved_ncoa", 10),  # a USPS change of address (mail came back: 30%)
    ("skip_trace", 8),  # mail came back; a skip-trace report of the new address, nothing else
    ("skip_trace_two", 1),  # the vendor names two addresses: a person must choose
    ("returned_only", 5),  # mail came back and nothing new is known
    ("moved_bureau", 9),  # only the bureau knows the new address (mail came back: 75%)
)
VENDOR_MISS = 1 / 30  # a skip-trace report that names someone else's address


@dataclass(frozen=True, slots=True)
class FeedSample:
    """Where `write_feed_sample` put the files, and the address configuration that names them."""

    files: SampleFiles
    config_path: Path


class _Story:
    """One debtor's reports, appended to the feeds."""

    def __init__(self, maker: SampleMaker, feeds: dict[str, list[list[str]]], cid: str) -> None:
        self.maker, self.feeds, self.cid = maker, feeds, cid

    def report(self, feed: str, address: TrueAddress, seen: date, status: str = "") -> None:
        spelled = self.maker.spell(address, FEEDS[feed][1])
        self.feeds[feed].append([self.cid, *spelled.fields(), seen.isoformat(), status])

    def moved(self, old: TrueAddress, new_feed: str, new: TrueAddress, returned: float) -> None:
        maker = self.maker
        self.report("crm_export_20261119.csv", old, maker.days_ago(200, 900))
        if maker.rng.random() < returned:
            self.report("returned_mail_20261118.csv", old, maker.days_ago(20, 150), "returned")
        self.report(new_feed, new, maker.days_ago(1, 200))

    def skip_traced(self, old: TrueAddress, new: tuple[TrueAddress, ...]) -> None:
        maker = self.maker
        self.report("crm_export_20261119.csv", old, maker.days_ago(200, 900))
        back = maker.days_ago(15, 150)
        self.report("returned_mail_20261118.csv", old, back, "returned")
        for address in new:
            days = (maker.as_of - back).days
            seen = back + timedelta(days=maker.rng.randint(1, max(1, min(days, 45))))
            self.report("skiptrace_acme_20261115.csv", address, seen)


def _tell(story: _Story, scenario: str, current: TrueAddress) -> None:
    maker, rng = story.maker, story.maker.rng
    old = maker.address()
    if scenario == "stable":
        story.report("crm_export_20261119.csv", current, maker.days_ago(30, 600))
        if rng.random() < 0.25:
            story.report("customer_updated_20261120.csv", current, maker.days_ago(1, 300))
        if rng.random() < 0.5:
            story.report("tp_bureau_20261110.csv", current, maker.days_ago(5, 300))
    elif scenario == "moved_customer_update":
        story.moved(old, "customer_updated_20261120.csv", current, 0.4)
    elif scenario == "moved_ncoa":
        story.moved(old, "ncoa_20261101.csv", current, 0.3)
    elif scenario == "moved_bureau":
        story.moved(old, "tp_bureau_20261110.csv", current, 0.75)
    elif scenario == "skip_trace":
        story.skip_traced(old, (maker.address() if rng.random() < VENDOR_MISS else current,))
    elif scenario == "skip_trace_two":
        story.skip_traced(old, (current, maker.address()))
    else:
        story.report("crm_export_20261119.csv", old, maker.days_ago(200, 900))
        story.report("returned_mail_20261118.csv", old, maker.days_ago(20, 150), "returned")


def generate_feeds(
    people: int, seed: int, as_of: date
) -> tuple[list[list[str]], dict[str, list[list[str]]], list[list[str]]]:
    """The rows of every file: accounts (one per debtor), feeds by file name, ground truth."""
    maker = SampleMaker(seed, as_of)
    rng = maker.rng
    feeds: dict[str, list[list[str]]] = {name: [] for name in FEEDS}
    accounts: list[list[str]] = []
    truth: list[list[str]] = []
    names, weights = zip(*SCENARIOS, strict=True)
    for number in range(1, people + 1):
        cid = f"C{number:07d}"
        current = maker.address()
        truth.append([cid, *current.standard().fields()])
        _tell(_Story(maker, feeds, cid), rng.choices(names, weights)[0], current)
        accounts.append(account_row(maker, f"A{number:08d}", cid, maker.name(False), False))
    return accounts, feeds, truth


def write_feed_sample(out_dir: Path, people: int, seed: int, as_of: date) -> FeedSample:
    """Write accounts.csv, the dated feeds under sources/, address-config.toml and the truth."""
    accounts, feeds, truth = generate_feeds(people, seed, as_of)
    make_private_dir(out_dir)
    source_dir = make_private_dir(out_dir / "sources")
    write_csv(out_dir / "accounts.csv", ACCOUNT_COLUMNS, accounts, for_people=False)
    for name, rows in feeds.items():
        write_csv(source_dir / name, FEED_COLUMNS, rows, for_people=False)
    write_csv(out_dir / "ground_truth.csv", TRUTH_COLUMNS, truth, for_people=False)
    config_path = out_dir / "address-config.toml"
    config_path.write_text(FEED_CONFIG, encoding="utf-8")
    files = SampleFiles(
        out_dir / "accounts.csv",
        tuple(source_dir / name for name in FEEDS),
        out_dir / "ground_truth.csv",
    )
    return FeedSample(files, config_path)
