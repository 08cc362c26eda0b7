"""Pages that cannot be mixed up, Model Form B-1's one-page layout, and the payment reference.

Read as a reader reads the PDFs: words at positions (pdfplumber), each page's QR code decoded
(pypdfium2 + zxing-cpp), the batch's print files and print-order.csv.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date
from itertools import pairwise
from pathlib import Path

import pdfplumber
import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from letters.errors import ExitCode
from letters.intake.envelope import DEFAULT_PROFILE
from letters.intake.policy import Policy, default_policy_text, load_policy
from letters.model import Account, luhn_digit, payment_reference
from letters.render.lint import lint_letter
from letters.render.pagemarks import MARK_SIZE, MARK_X, MARK_Y
from letters.render.renderer import RenderedPdf, Renderer, default_templates_dir
from tests.helpers import (
    CERTIFIED,
    WriteCsv,
    account,
    letter_for,
    manifest,
    only_batch,
    read_rows,
    run_in_process,
)

POLICY = load_policy(None)
COLLECTOR = replace(POLICY, sender=replace(POLICY.sender, kind="debt_collector"))
PAGE_HEIGHT = 792.0  # US Letter, in points
RESPOND = "How do you want to respond?"


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(default_templates_dir())


def _accounts(count: int) -> list[Account]:
    return [
        account(account_id=f"A{n}", account_number=f"41111111111{n:05d}")
        for n in range(1, count + 1)
    ]


def _render(renderer: Renderer, accounts: list[Account], policy: Policy = COLLECTOR) -> RenderedPdf:
    letter, content = letter_for(accounts, policy)
    pdf = renderer.render(letter.template, content.context, "P-000001")
    assert lint_letter(pdf.runs, content.lint, DEFAULT_PROFILE) == []
    return pdf


def _page_texts(data: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def _word_top(data: bytes, page_number: int, first_word: str, second_word: str) -> float | None:
    """The top (points from the top of the page) of `first_word` followed by `second_word`."""
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        words = pdf.pages[page_number].extract_words()
    for word, following in pairwise(words):
        if word["text"] == first_word and following["text"] == second_word:
            return float(word["top"])
    return None


def _rows_whole(texts: list[str]) -> None:
    """Every itemization table and each of its rows lies on one page."""
    for text in texts:
        starts = text.count("you owed:")
        assert text.count("Total amount of the debt now:") == starts
        assert text.count("You paid or were credited this amount") == starts
        assert text.count("toward the debt:") == starts


def test_a_three_account_validation_notice_keeps_the_response_form_at_the_bottom_of_page_1(
    renderer: Renderer,
) -> None:
    pdf = _render(renderer, _accounts(3))
    texts = _page_texts(pdf.data)
    assert pdf.pages == 2
    top = _word_top(pdf.data, 0, "How", "do")
    assert top is not None and top > PAGE_HEIGHT * 2 / 3  # the lower third of page 1
    assert RESPOND not in texts[1]
    # B-1: the form names where to mail it and who sends it back (a window-envelope reply)
    respond_part = texts[0][texts[0].index("Mail this form to:") :]
    assert "PO BOX 4410" in respond_part and "Ada Lovelace" in respond_part
    # the itemization that does not fit is on page 2, and page 1 says so (1006.34(d)(2)(ii))
    assert "This notice continues on page 2." in texts[0]
    assert "ending 0001" not in texts[1] and "ending 0003" in texts[1].replace("\n", " ")
    _rows_whole(texts)


def test_a_one_account_validation_notice_is_one_page(renderer: Renderer) -> None:
    pdf = _render(renderer, _accounts(1))
    assert pdf.pages == 1
    assert "continues on page 2" not in _page_texts(pdf.data)[0]


def test_many_accounts_continue_the_itemization_on_page_2_and_keep_the_form_on_page_1(
    renderer: Renderer,
) -> None:
    pdf = _render(renderer, _accounts(8))
    texts = _page_texts(pdf.data)
    assert pdf.pages >= 2
    top = _word_top(pdf.data, 0, "How", "do")
    assert top is not None and top > PAGE_HEIGHT * 2 / 3
    assert [RESPOND in text for text in texts] == [True] + [False] * (pdf.pages - 1)
    assert "you owed:" in texts[1]
    _rows_whole(texts)


def test_a_long_itemization_table_never_splits_a_row(renderer: Renderer) -> None:
    accounts = _accounts(45)  # a creditor's reminder: one table row per account, over pages
    pdf = _render(renderer, accounts, POLICY)
    texts = _page_texts(pdf.data)
    assert pdf.pages >= 2
    for item in accounts:
        lines = [line for text in texts for line in text.splitlines()]
        (row,) = [line for line in lines if f"ending {item.account_number_last4} " in line + " "]
        assert item.payment_reference in row and "$937.34" in row


def _codes(data: bytes) -> list[list[str]]:
    document = pypdfium2.PdfDocument(data)
    scale = 300 / 72
    found = []
    for number in range(len(document)):
        image = document[number].render(scale=scale).to_pil()
        height = image.height
        box = (
            0,
            int(height - (MARK_Y + MARK_SIZE + 0.2) * 300),
            int((MARK_X + MARK_SIZE + 0.2) * 300),
            height,
        )
        found.append([code.text for code in zxingcpp.read_barcodes(image.crop(box))])
    return found


def test_every_page_carries_its_piece_and_page_as_text_and_as_a_qr_code(
    renderer: Renderer,
) -> None:
    pdf = _render(renderer, _accounts(8))  # the lint passed: nothing of it is in a window
    n = pdf.pages
    assert _codes(pdf.data) == [[f"P-000001|{x}|{n}"] for x in range(1, n + 1)]
    for number, text in enumerate(_page_texts(pdf.data), start=1):
        assert "P-000001" in text and f"Page {number} of {n}" in text
    one_page = _render(renderer, _accounts(1), POLICY)
    assert _codes(one_page.data) == [["P-000001|1|1"]]


def test_page_marks_keep_the_bytes_reproducible(renderer: Renderer) -> None:
    letter, content = letter_for(_accounts(3), COLLECTOR)
    first = renderer.render(letter.template, content.context, "P-000001").data
    assert renderer.render(letter.template, content.context, "P-000001").data == first


def test_the_payment_reference_has_a_check_digit_and_depends_on_the_account_alone() -> None:
    reference = payment_reference("A00000001")
    assert re.fullmatch(r"\d{4}-\d{4}-\d{3}", reference)
    digits = reference.replace("-", "")
    assert luhn_digit(digits[:-1]) == digits[-1]
    assert luhn_digit("7992739871") == "3"  # the textbook Luhn example
    assert payment_reference("A00000001") == reference != payment_reference("A00000002")
    wrong = digits[:-2] + str((int(digits[-2]) + 1) % 10) + digits[-1]
    assert luhn_digit(wrong[:-1]) != wrong[-1]  # a mistyped digit shows


def test_the_payment_reference_never_wraps(renderer: Renderer) -> None:
    # a reference-like text in a narrow box: with `.ref` it stays on one line
    html = (
        '<html><body><p style="width: 1.3in">Please have your reference number '
        '<span class="ref">ABCD-EFGH-XYZ9-KLMN</span> ready.</p></body></html>'
    )
    lines = [run.text for run in renderer.render_pdf(html, "T").runs]
    assert any("ABCD-EFGH-XYZ9-KLMN" in line for line in lines), lines


def test_the_same_account_gets_the_same_reference_in_two_runs(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts, sources = write_accounts({}), write_sources({})
    references, texts = [], []
    for run, as_of in enumerate((date(2026, 11, 20), date(2026, 12, 30))):
        out = tmp_path / f"out{run}"
        result = run_in_process(accounts, [sources], out, as_of=as_of)
        assert result.exit_code == ExitCode.DONE, result.summary()
        (row,) = manifest(only_batch(out))
        references.append(row["payment_reference"])
        texts.append(_page_texts((only_batch(out) / row["pdf_path"]).read_bytes()))
    assert references[0] == references[1] == payment_reference("A1")
    for pages in texts:  # whole on one text line, and on the letter more than once
        lines = [line for text in pages for line in text.splitlines()]
        assert sum(references[0] in line for line in lines) >= 2


def test_the_print_file_is_split_by_page_count(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    many = [
        {"account_id": f"B{n}", "customer_id": "C2", "account_number": f"41111111111{n:05d}"}
        for n in range(12)
    ]
    accounts = write_accounts({}, *many)
    sources = write_sources({}, {"customer_id": "C2", "line1": "9 Oak Ave", "line2": ""})
    policy = tmp_path / "policy.toml"
    policy.write_text(
        default_policy_text().replace(
            "split_print_file_by_pages = false", "split_print_file_by_pages = true"
        ),
        encoding="utf-8",
    )
    result = run_in_process(accounts, [sources], tmp_path / "out", policy=policy)
    assert result.exit_code == ExitCode.DONE, result.summary()
    batch = only_batch(tmp_path / "out")
    order = read_rows(batch / "print-order.csv")
    assert list(order[0])[-4:] == ["pages", "country", "zip", "mail_class"]
    pages = {row["piece_id"]: row["pages"] for row in manifest(batch)}
    counts = sorted(row["pages"] for row in order)
    assert counts == sorted(set(pages.values())) and len(counts) == 2 and counts[0] == "1"
    for row in order:
        assert row["pages"] == pages[row["piece_id"]]
        assert row["file"] == f"print-file-{row['pages']}p-001.pdf"
        reader = PdfReader(batch / row["file"])
        assert len(reader.pages) == int(row["pages"])  # one piece in each file here
    assert not (batch / "print-file-001.pdf").exists()


def test_the_article_number_is_printed_below_its_barcode(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    result = run_in_process(write_accounts(CERTIFIED), [write_sources({})], tmp_path / "out")
    assert result.exit_code == ExitCode.DONE, result.summary()
    batch = only_batch(tmp_path / "out")
    (row,) = manifest(batch)
    service = DEFAULT_PROFILE.service_window
    with pdfplumber.open(batch / row["pdf_path"]) as pdf:
        page = pdf.pages[0]
        box = (service.x * 72, service.y * 72, (service.x + service.width) * 72,
               (service.y + service.height) * 72)  # fmt: skip
        area = page.crop(box)
        bars = [r for r in area.rects if r["height"] > 10]
        first_group = row["article_number"][:4]
        (number,) = [w for w in area.extract_words() if w["text"] == first_group]
    assert bars, "no barcode in the service window"
    assert number["top"] >= max(bar["bottom"] for bar in bars)
