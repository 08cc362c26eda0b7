"""Mail-ready PDFs checked on real files: windows, barcodes, article pool, output options, preview."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pdfplumber
import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader
from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode, UsageError
from letters.intake.envelope import DEFAULT_PROFILE, Rect
from letters.intake.policy import default_policy_text
from letters.render.barcodes import (
    PX_PER_MM,
    domestic_number,
    imb_bars,
    impb_svg,
    mod10_check_digit,
    s10_number,
    valid_article_number,
)
from letters.render.renderer import pdf_fonts
from tests.helpers import CERTIFIED, WriteCsv, manifest, only_batch, run_in_process

runner = CliRunner()


def _policy(tmp_path: Path, extra: str = "", replace: tuple[str, str] | None = None) -> Path:
    text = default_policy_text()
    if replace:
        text = text.replace(*replace)
    path = tmp_path / "policy.toml"
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


def _run(tmp_path: Path, accounts: Path, sources: Path, policy: Path | None = None) -> Path:
    out = tmp_path / "out"
    result = run_in_process(accounts, [sources], out, policy=policy)
    assert result.exit_code in (ExitCode.DONE, ExitCode.REJECTED_ROWS), result.summary()
    return out


def _crop_text(pdf_path: Path, rect: Rect) -> list[str]:
    with pdfplumber.open(pdf_path) as pdf:
        box = (rect.x * 72, rect.y * 72, (rect.x + rect.width) * 72, (rect.y + rect.height) * 72)
        text = pdf.pages[0].crop(box).extract_text() or ""
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_windows_show_the_addresses_and_nothing_else(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    out = _run(tmp_path, write_accounts(CERTIFIED), write_sources({}))
    (row,) = manifest(only_batch(out))
    pdf_path = only_batch(out) / row["pdf_path"]
    play = DEFAULT_PROFILE.play
    recipient = _crop_text(pdf_path, DEFAULT_PROFILE.recipient_window.grown(play))
    assert recipient == ["ADA LOVELACE", "123 N MAIN ST APT 4", "CHICAGO IL 60614"]
    assert [row["address_line1"], row["address_line2"]] == ["123 N MAIN ST", "APT 4"]
    returned = _crop_text(pdf_path, DEFAULT_PROFILE.return_window.grown(play))
    assert returned == [
        "LAKESIDE COMMUNITY CREDIT UNION",
        "400 W MONROE ST STE 1200",
        "CHICAGO IL 60606",
    ]
    service = _crop_text(pdf_path, DEFAULT_PROFILE.service_window.grown(play))
    number = row["article_number"]
    assert service == [
        "CERTIFIED MAIL",
        " ".join(number[i : i + 4] for i in range(0, len(number), 4)),
    ]


def test_certified_barcode_decodes_to_the_manifest_article_number(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    out = _run(tmp_path, write_accounts(CERTIFIED), write_sources({}))
    (row,) = manifest(only_batch(out))
    assert valid_article_number(row["article_number"]) and row["mail_class"] == "certified"
    page = pypdfium2.PdfDocument(only_batch(out) / row["pdf_path"])[0]
    image = page.render(scale=300 / 72).to_pil()
    (found,) = [
        r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.Code128
    ]
    assert found.text.replace("(", "").replace(")", "") == "420" + "60614" + row["article_number"]
    assert all(pdf_fonts((only_batch(out) / row["pdf_path"]).read_bytes()).values())


def test_article_numbers_are_never_used_twice_across_runs(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts(CERTIFIED, {"account_id": "A2", "customer_id": "C2", **CERTIFIED})
    sources = write_sources({}, {"customer_id": "C2", "line1": "9 Oak Ave", "line2": ""})
    out = _run(tmp_path, accounts, sources)
    first = {r["article_number"] for r in manifest(only_batch(out))}
    forced = [r["piece_id"] for r in manifest(only_batch(out))]
    again = run_in_process(accounts, [sources], out, as_of=date(2026, 12, 20), force=forced[:1],
                           force_reason="reprint")  # fmt: skip
    assert again.exit_code == ExitCode.DONE, again.summary()
    second_batch = sorted(p for p in out.iterdir() if p.is_dir())[1]
    second = {r["article_number"] for r in manifest(second_batch) if r["status"] == "generated"}
    assert len(first) == 2 and len(second) == 1 and not first & second


def test_a_number_file_is_checked_and_an_empty_pool_holds_the_letter(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    numbers = tmp_path / "articles.txt"
    numbers.write_text("9400111201080805483016\n9400111201080805483017\n", encoding="utf-8")
    policy = _policy(tmp_path, replace=('mailer_id = "999999999"', 'file = "articles.txt"'))
    accounts = write_accounts(CERTIFIED, {"account_id": "A2", "customer_id": "C2", **CERTIFIED})
    sources = write_sources({}, {"customer_id": "C2", "line1": "9 Oak Ave", "line2": ""})
    with pytest.raises(UsageError) as bad:
        run_in_process(accounts, [sources], tmp_path / "out", policy=policy)
    assert bad.value.exit_code == ExitCode.USAGE
    assert str(bad.value) == (
        "articles.txt:2: not a valid article number (check digit): '9400111201080805483017'"
    )  # the command line's whole error line: test_cli.py
    assert not (tmp_path / "out").exists()
    numbers.write_text("# one number left\n9400111201080805483016\n", encoding="utf-8")
    out = _run(tmp_path, accounts, sources, policy=policy)
    rows = {r["account_id"]: r for r in manifest(only_batch(out))}
    assert rows["A1"]["article_number"] == "9400111201080805483016"
    assert (rows["A2"]["status"], rows["A2"]["reason_code"]) == ("held", "article_pool_empty")


def test_duplex_gives_even_page_counts_and_pdfa_is_identified(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    policy = _policy(tmp_path, replace=("duplex = false", "duplex = true"))
    policy.write_text(policy.read_text().replace('pdf_variant = ""', 'pdf_variant = "pdf/a-3b"'))
    out = _run(tmp_path, write_accounts(CERTIFIED), write_sources({}), policy=policy)
    (row,) = manifest(only_batch(out))
    data = (only_batch(out) / row["pdf_path"]).read_bytes()
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) % 2 == 0 and row["pages"] == str(len(reader.pages))
    metadata = reader.xmp_metadata
    assert metadata is not None and metadata.pdfaid_part == "3"


def test_print_file_holds_every_piece_in_zip_order(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    accounts = write_accounts(
        {}, {"account_id": "A2", "customer_id": "C2"}, {"account_id": "A3", "customer_id": "C3"}
    )
    sources = write_sources(
        {}, {"customer_id": "C2", "line1": "1 Main St", "line2": "", "city": "Boston", "state": "MA", "zip": "02108"},
        {"customer_id": "C3", "line1": "5 Elm St", "line2": "", "city": "Denver", "state": "CO", "zip": "80202"},
    )  # fmt: skip
    batch_dir = only_batch(_run(tmp_path, accounts, sources))
    with (batch_dir / "print-order.csv").open(encoding="utf-8", newline="") as handle:
        order = list(csv.DictReader(handle))
    assert [r["zip"] for r in order] == ["02108", "60614", "80202"]
    assert {r["file"] for r in order} == {"print-file-001.pdf"}
    assert len(PdfReader(batch_dir / "print-file-001.pdf").pages) == sum(
        int(r["pages"]) for r in order
    )
    from letters.proof.manifest import ManifestRow
    from letters.proof.printfile import print_pieces, write_print_file

    rows = [
        ManifestRow(**r)
        for r in csv.DictReader((batch_dir / "manifest.csv").open(encoding="utf-8"))
    ]
    write_print_file(
        batch_dir, print_pieces(rows), part_pieces=2
    )  # parts bound the memory a huge batch needs
    order = list(csv.DictReader((batch_dir / "print-order.csv").open(encoding="utf-8")))
    assert [r["file"] for r in order] == [
        "print-file-001.pdf",
        "print-file-001.pdf",
        "print-file-002.pdf",
    ]
    assert [r["first_page"] for r in order] == ["1", "2", "1"]


@pytest.mark.parametrize(
    ("number", "zip5"), [("9207099999999900000123", "60601"), ("RR123456785US", "")]
)
def test_impb_path_draws_the_bars_of_python_barcodes_own_writer(number: str, zip5: str) -> None:
    import re

    from barcode import Gs1_128
    from barcode.writer import SVGWriter

    data = f"420{zip5}{Gs1_128.FNC1_CHAR}{number}" if zip5 else number
    buffer = io.BytesIO()
    options = {"module_width": 0.33, "module_height": 12.0, "write_text": False, "quiet_zone": 3.0}
    Gs1_128(data, writer=SVGWriter()).write(buffer, options=options)
    mm = r'x="([\d.]+)mm" y="([\d.]+)mm" width="([\d.]+)mm" height="([\d.]+)mm"'
    expected = [tuple(map(float, m)) for m in re.findall(mm, buffer.getvalue().decode())]
    drawn = [
        tuple(float(v) / PX_PER_MM for v in m)
        for m in re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)", impb_svg(number, zip5))
    ]
    assert len(drawn) == len(expected) > 30
    pairs = zip(drawn, expected, strict=True)
    assert all(abs(a - b) < 0.001 for d, e in pairs for a, b in zip(d, e, strict=True))


def test_imb_and_check_digits_match_the_published_examples() -> None:
    bars = imb_bars("01234567094987654321", "01234567891")  # USPS-B-3200 example
    assert bars == "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA"
    assert mod10_check_digit("940011120108080548301") == 6
    assert mod10_check_digit("950551106960504860062") == 4
    assert s10_number("RR", 12345678) == "RR123456785US"
    number = domestic_number("92", "070", "123456789", 42)
    assert len(number) == 22 and valid_article_number(number)
    assert not valid_article_number(number[:-1] + str((int(number[-1]) + 1) % 10))


def test_preview_writes_pdf_and_png_and_touches_no_state(tmp_path: Path) -> None:
    out = tmp_path / "preview"
    result = runner.invoke(app, ["preview", "--template", "validation.html", "--windows", "--out", str(out),
                                 "--as-of", "2026-11-20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names[0] == "validation-1.png" and "validation.pdf" in names
    assert not list(tmp_path.rglob("*.db"))
    assert (
        "How do you want to respond?" in PdfReader(out / "validation.pdf").pages[-1].extract_text()
    )


@pytest.mark.parametrize("template", ["reminder.html", "es/final.html", "hardship.html"])
def test_preview_of_default_templates_passes_lint(tmp_path: Path, template: str) -> None:
    result = runner.invoke(app, ["preview", "--template", template, "--out", str(tmp_path),
                                 "--as-of", "2026-11-20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "lint:" not in result.output
