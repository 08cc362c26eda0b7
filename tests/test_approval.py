"""Template approval: the proof a reviewer reads, the approval in the state, and runs that refuse
templates nobody approved."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from letters.cli.app import app
from letters.errors import ExitCode
from letters.intake.policy import default_policy_text
from letters.render.renderer import Renderer, default_templates_dir
from letters.state import open_store
from tests.helpers import (
    CERTIFIED,
    WriteCsv,
    batch_dirs,
    cli_args,
    error_lines,
    manifest,
    page_texts,
)

runner = CliRunner()
ROW = re.compile(  # one contents row, in the text with its white space made single spaces
    r"(\d+) (\S+\.html) (\w+) (debtor|attorney|representative) (en|es) (\w+) (\d+) "
    r"([0-9a-f]{16}) (.+?)(?= \d+ \S+\.html | # template |$)"
)
NEXT = "run letters templates proof, then letters templates approve"


def _templates(tmp_path: Path) -> Path:
    """A copy of the shipped templates that a test may edit."""
    return Path(shutil.copytree(default_templates_dir(), tmp_path / "templates"))


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _reminder_only(tmp_path: Path) -> Path:
    """The shipped policy with one stage: the reminder."""
    one_stage = default_policy_text().split("[[stages]]")[0] + (
        '[[stages]]\nname = "reminder"\nmin_days = 1\ntemplate = "reminder.html"\n'
    )
    return _policy(tmp_path, one_stage)


def _contents(pages: list[str]) -> list[tuple[str, ...]]:
    """The contents rows of a proof (the pages before the first variant's)."""

    def text_of(count: int) -> str:
        return " ".join(" ".join(pages[:count]).split())

    first = ROW.search(text_of(1))
    assert first is not None
    return [match.groups() for match in ROW.finditer(text_of(int(first.group(7)) - 1))]


def test_the_proof_lists_and_renders_every_variant_of_the_shipped_templates(
    tmp_path: Path,
) -> None:
    out, templates = tmp_path / "proof.pdf", _templates(tmp_path)  # a copy: nothing edits it
    args = ["templates", "proof", "--out", str(out), "--as-of", "2026-11-20", "--templates"]
    result = runner.invoke(app, [*args, str(templates)])

    assert result.exit_code == 0, result.output
    pages = page_texts(out)
    rows = _contents(pages)
    # 4 templates (3 at their stage, hardship at each of 3) x en/es x 3 roles x 2 mail classes
    assert len(rows) == (3 + 3) * 2 * 3 * 2
    assert len(pages) >= len(rows) + 1
    flagged = sum(1 for row in rows if row[8] != "no findings")
    assert f"{len(rows)} variants on {len(pages)} pages, {flagged} with lint findings" in (
        result.output
    )
    opening = " ".join(pages[0].split())
    css = hashlib.sha256((templates / "letter.css").read_bytes()).hexdigest()
    assert f"letter.css {css}" in opening  # what an approval of this proof would record
    renderer = Renderer(templates)
    variants = {(r[1], r[2], r[3], r[4], r[5]) for r in rows}
    assert len(variants) == len(rows)  # no variant twice
    assert {r[5] for r in rows} == {"first_class", "certified", "registered"}
    assert {r[2] for r in rows if r[1] == "hardship.html"} == {"reminder", "notice", "final"}
    for number, template, _stage, role, _language, mail_class, page, digest, findings in rows:
        assert digest == renderer.template_version(template), number
        assert findings == "no findings" or re.match(r"[a-z_]+(:\S+)?: ", findings), number
        text = pages[int(page) - 1]
        assert {"debtor": "ADA LOVELACE", "attorney": "GRACE HOPPER",
                "representative": "CHARLES BABBAGE"}[role] in text.upper(), number  # fmt: skip
        assert ("UNITED KINGDOM" in text) == (mail_class == "registered"), number


def test_a_template_error_only_one_variant_meets_stops_the_proof_at_its_line(
    tmp_path: Path,
) -> None:
    """The run's template check renders each template at its stage's mail class; the proof also
    renders registered mail. An error only that variant meets is the proof's, at its line."""
    templates = _templates(tmp_path)
    reminder = templates / "reminder.html"
    text = reminder.read_text(encoding="utf-8")
    broken = "{% if letter.endorsement == 'REGISTERED MAIL' %}{{ letter.no_such_field }}{% endif %}"
    reminder.write_text(text.replace("{% block body %}", "{% block body %}" + broken), "utf-8")
    line = text[: text.index("{% block body %}")].count("\n") + 1
    out = tmp_path / "proof.pdf"
    args = ["templates", "proof", "--out", str(out), "--as-of", "2026-11-20",
            "--templates", str(templates), "--policy", str(_reminder_only(tmp_path))]  # fmt: skip
    result = runner.invoke(app, args)

    assert result.exit_code == ExitCode.FATAL
    assert f"reminder.html:{line}: " in result.output and "no_such_field" in result.output
    assert "render_error" not in result.output
    assert not out.exists()


def test_the_proof_shows_each_variants_lint_findings(tmp_path: Path) -> None:
    templates = _templates(tmp_path)
    reminder = templates / "reminder.html"
    reminder.write_text(
        reminder.read_text().replace("{% block body %}", "{% block body %}<p>We may garnish.</p>"),
        encoding="utf-8",
    )
    out = tmp_path / "proof.pdf"
    args = ["templates", "proof", "--out", str(out), "--as-of", "2026-11-20",
            "--templates", str(templates), "--policy", str(_reminder_only(tmp_path))]  # fmt: skip
    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    rows = _contents(page_texts(out))
    assert len(rows) == 2 * 2 * 3 * 2  # reminder and hardship, en/es, 3 roles, 2 mail classes
    found = {r[1]: r[8] for r in rows if r[3:6] == ("debtor", "en", "first_class")}
    assert found["reminder.html"].startswith("prohibited:garnishment_or_seizure: 'garnish'")
    assert found["hardship.html"] == "no findings"
    assert "reminder.html reminder debtor en first_class: prohibited:garnishment_or_seizure" in (
        result.output
    )


def test_approve_records_every_hash_with_who_and_when(tmp_path: Path) -> None:
    templates, state = _templates(tmp_path), tmp_path / "state"
    common = ["--templates", str(templates), "--out", str(state)]
    before = runner.invoke(app, ["templates", "status", *common])
    assert before.exit_code == 0, before.output
    assert "no template approval on record" in before.output

    result = runner.invoke(
        app, ["templates", "approve", "--by", "Jo Rivera", "--note", "proof of 2 Dec", *common]
    )

    assert result.exit_code == 0, result.output
    approval = open_store(state / "letters.db").latest_approval()
    assert approval is not None and approval.approved_by == "Jo Rivera"
    assert (
        abs((datetime.now().astimezone() - datetime.fromisoformat(approval.approved_at)).seconds)
        < 60
    )
    for name in ("final.html", "es/final.html", "partials/itemization.html", "letter.css"):
        assert approval.files[name] == hashlib.sha256((templates / name).read_bytes()).hexdigest()
    assert {"state_notices.toml", "policy wording"} <= set(approval.files)
    status = runner.invoke(app, ["templates", "status", *common])
    assert f"approval 1 of {approval.approved_at} by Jo Rivera: proof of 2 Dec" in status.output
    digest = approval.files["letter.css"][:16]
    assert f"approved  letter.css  approved {digest}  current {digest}" in status.output
    assert f"0 pending, {len(approval.files)} approved" in status.output

    (templates / "final.html").write_text("{% extends 'base.html' %}", encoding="utf-8")
    changed = runner.invoke(app, ["templates", "status", *common])
    assert re.search(r"^changed   final\.html  approved [0-9a-f]{16}  current [0-9a-f]{16}$",
                     changed.output, re.MULTILINE)  # fmt: skip
    assert "approved  reminder.html" in changed.output
    assert f"1 pending, {len(approval.files) - 1} approved" in changed.output
    phone = _policy(tmp_path, default_policy_text().replace("(312) 555-0142", "(312) 555-0199"))
    reworded = runner.invoke(app, ["templates", "status", "--policy", str(phone), *common])
    assert re.search(r"^changed   policy wording  ", reworded.output, re.MULTILINE)
    assert "2 pending" in reworded.output


def test_require_approval_blocks_an_edited_template_until_it_is_approved_again(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    templates, out = _templates(tmp_path), tmp_path / "out"
    policy = _policy(
        tmp_path,
        default_policy_text().replace("# require_approval = true", "require_approval = true"),
    )
    inputs = (write_accounts(CERTIFIED), [write_sources({})])
    run = cli_args(*inputs, out, "--policy", str(policy), "--templates", str(templates))
    options = ["--policy", str(policy), "--templates", str(templates), "--out", str(out)]

    never = runner.invoke(app, run)
    assert never.exit_code == ExitCode.FATAL
    assert error_lines(never.output) == [
        f"Error: templates not approved: no approval on record; {NEXT}"
    ]

    assert (
        runner.invoke(app, ["templates", "approve", "--by", "Jo Rivera", *options]).exit_code == 0
    )
    first = runner.invoke(app, run)
    assert first.exit_code == 0, first.output
    (batch_dir,) = batch_dirs(out)
    assert {row["template_approval"] for row in manifest(batch_dir)} == {"1"}
    summary = json.loads((batch_dir / "summary.json").read_text())
    assert summary["template_approval"]["id"] == 1
    assert summary["template_approval"]["approved_by"] == "Jo Rivera"

    for name in ("final.html", "letter.css"):
        (templates / name).write_text((templates / name).read_text() + "\n", encoding="utf-8")
    blocked = runner.invoke(app, run)
    approval = open_store(out / "letters.db").latest_approval()
    assert approval is not None
    at = datetime.fromisoformat(approval.approved_at).strftime("%Y-%m-%d %H:%M")
    assert blocked.exit_code == ExitCode.FATAL
    assert error_lines(blocked.output) == [
        f"Error: templates not approved: final.html, letter.css changed since the approval of {at}"
        f" by Jo Rivera; {NEXT}"
    ]
    assert batch_dirs(out) == [batch_dir]  # no batch folder

    again = runner.invoke(app, ["templates", "approve", "--by", "Kim Lee", *options])
    assert again.exit_code == 0, again.output
    second = runner.invoke(app, [*run, "--force", manifest(batch_dir)[0]["piece_id"],
                                 "--force-reason", "wording approved again"])  # fmt: skip
    assert second.exit_code == 0, second.output
    newest = batch_dirs(out)[-1]
    assert newest != batch_dir
    assert {row["template_approval"] for row in manifest(newest) if row["pdf_path"]} == {"2"}


def test_without_an_approval_the_manifest_column_is_empty(
    tmp_path: Path, write_accounts: WriteCsv, write_sources: WriteCsv
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, cli_args(write_accounts(CERTIFIED), [write_sources({})], out))

    assert result.exit_code == 0, result.output
    (batch_dir,) = batch_dirs(out)
    rows = manifest(batch_dir)
    assert list(rows[0])[-1] == "template_approval"  # columns are only added at the end
    assert [row["template_approval"] for row in rows] == [""]
    assert rows[0]["template_version"]
    assert json.loads((batch_dir / "summary.json").read_text())["template_approval"] is None
