"""Accountable-mail numbers for pieces, and the postal marks a letter prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from letters.errors import UsageError
from letters.intake.policy import ArticleConfig, ImbConfig
from letters.render.barcodes import (
    display_number,
    domestic_number,
    imb_svg,
    impb_svg,
    s10_number,
    valid_article_number,
)
from letters.state.protocol import StateStore

ACCOUNTABLE = ("certified", "certified_return_receipt", "registered")


@dataclass(frozen=True, slots=True)
class PostalMarks:
    """What a piece prints for the post office beyond its address."""

    article_number: str = ""
    imb_tracking: str = ""
    imb_routing: str = ""

    def context(self, zip_code: str) -> dict[str, str | Markup]:
        """Template fields: the number for people, its IMpb barcode, the Intelligent Mail one."""
        zip5 = zip_code.replace("-", "")[:5] if zip_code[:5].isdigit() else ""
        return {
            "article_number": self.article_number,
            "article_number_display": display_number(self.article_number),
            "article_svg": impb_svg(self.article_number, zip5) if self.article_number else "",
            "imb_svg": imb_svg(self.imb_tracking, self.imb_routing) if self.imb_tracking else "",
        }


def read_article_file(file_path: Path) -> list[str]:
    """The numbers in a pool file, one a line; any bad check digit stops with its line number."""
    try:
        lines = file_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file_path}: cannot read article numbers: {exc}") from None
    numbers = []
    for number, line in enumerate(lines, start=1):
        text = line.strip().replace(" ", "")
        if not text or text.startswith("#"):
            continue
        if not valid_article_number(text):
            raise UsageError(
                f"{file_path.name}:{number}: not a valid article number (check digit): {text!r}"
            )
        numbers.append(text)
    return numbers


def pool_file_numbers(config: ArticleConfig) -> list[str]:
    """The checked numbers of the operator's pool file (none without a file)."""
    return read_article_file(config.file) if config.file is not None else []


def load_pool_file(store: StateStore, config: ArticleConfig, numbers: list[str]) -> None:
    """Add the file's numbers to the state's pool (numbers already there stay as they are)."""
    if config.file is not None:
        store.load_pool(f"file:{config.file.name}", numbers)


def assign_marks(
    store: StateStore, piece_id: str, mail_class: str, zip_code: str, articles: ArticleConfig,
    imb: ImbConfig, at: str,
) -> PostalMarks:  # fmt: skip
    """The piece's article number (accountable mail) and Intelligent Mail code (if configured)."""
    article = ""
    if mail_class == "registered":
        prefix = articles.registered_prefix
        article = store.assign_article(
            piece_id, f"s10:{prefix}", lambda n: s10_number(prefix, n),
            articles.registered_first, articles.registered_last, at,
        )  # fmt: skip
    elif mail_class in ACCOUNTABLE:
        if articles.file is not None:
            article = store.assign_article(piece_id, f"file:{articles.file.name}", None, 0, 0, at)
        else:
            if not articles.mailer_id:
                raise UsageError("[articles]: give a number file or a mailer_id for certified mail")
            head = (articles.channel, articles.service_type, articles.mailer_id)
            article = store.assign_article(
                piece_id, f"range:{''.join(head)}", lambda n: domestic_number(*head, n),
                articles.first_serial, articles.last_serial, at,
            )  # fmt: skip
    if article and not valid_article_number(article):
        raise UsageError(f"article number {article!r} fails its check digit")
    tracking = routing = ""
    if imb.mailer_id:
        width = 15 - len(imb.mailer_id)  # serial: 9 digits with a 6-digit ID, 6 with a 9-digit one
        serial = store.assign_imb_serial(piece_id, imb.mailer_id, 10**width)
        tracking = f"{imb.barcode_id}{imb.service_type}{imb.mailer_id}{serial:0{width}d}"
        digits = zip_code.replace("-", "")
        routing = digits if digits.isdigit() and len(digits) in (5, 9, 11) else ""
    return PostalMarks(article, tracking, routing)
