"""The batch seal: `batch.json` lists every file of the batch with its SHA-256, and may be signed.

Any later change to a PDF, the manifest, another file or the seal itself is detectable by
`verify_batch`: a file missing, added or changed is named; a signature that does not match the
seal's content (HMAC-SHA256 with the operator's key) is reported.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letters.fsutil import sha256_file, write_text_atomic

SEAL_NAME = "batch.json"
SIGNATURE_ALGORITHM = "hmac-sha256"


def read_key(key_path: Path) -> bytes:
    """An HMAC key from a file (surrounding white space ignored)."""
    key = key_path.read_bytes().strip()
    if len(key) < 16:
        raise ValueError(f"{key_path}: a signing key needs at least 16 bytes")
    return key


def file_hashes(batch_dir: Path) -> dict[str, str]:
    """Every file below the batch folder but the seal, by relative path, with its SHA-256."""
    hashes = {}
    for path in sorted(batch_dir.rglob("*")):
        relative = path.relative_to(batch_dir).as_posix()
        if path.is_file() and relative != SEAL_NAME and not path.name.startswith(".tmp-"):
            hashes[relative] = sha256_file(path)
    return hashes


def _canonical(seal: dict[str, Any]) -> bytes:
    body = {k: v for k, v in seal.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def write_seal(batch_dir: Path, info: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    """Write batch.json: `info` plus every file's hash, signed when a key is given."""
    files = file_hashes(batch_dir)
    seal = {**info, "files": files, "manifest_sha256": files.get("manifest.csv", "")}
    if key is not None:
        digest = hmac.new(key, _canonical(seal), hashlib.sha256).hexdigest()
        seal["signature"] = {"algorithm": SIGNATURE_ALGORITHM, "value": digest}
    write_text_atomic(batch_dir / SEAL_NAME, json.dumps(seal, indent=2, sort_keys=True) + "\n")
    return seal


@dataclass(slots=True)
class VerifyReport:
    """What `verify_batch` found; `intact` only when nothing is wrong."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)
    signed: bool = False

    @property
    def intact(self) -> bool:
        """True when every file and the signature (if any) check out."""
        return not self.problems


def _manifest_problems(batch_dir: Path) -> list[str]:
    """Each generated piece's PDF must have the hash the manifest gives it."""
    import csv

    problems = []
    manifest = batch_dir / "manifest.csv"
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("status") == "generated" and row.get("pdf_path"):
                pdf = batch_dir / row["pdf_path"]
                if pdf.is_file() and sha256_file(pdf) != row.get("pdf_sha256"):
                    problems.append(f"{row['pdf_path']}: differs from its manifest hash")
    return sorted(set(problems))


def verify_batch(batch_dir: Path, key: bytes | None) -> VerifyReport:
    """Recompute every hash and the signature; name each missing, extra or changed file."""
    report = VerifyReport()
    seal_path = batch_dir / SEAL_NAME
    try:
        seal = json.loads(seal_path.read_text(encoding="utf-8"))
        recorded: dict[str, str] = seal["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{SEAL_NAME}: missing or unreadable ({exc.__class__.__name__})")
        return report
    actual = file_hashes(batch_dir)
    report.checked = len(actual)
    for name in sorted(recorded.keys() - actual.keys()):
        report.problems.append(f"{name}: missing")
    for name in sorted(actual.keys() - recorded.keys()):
        report.problems.append(f"{name}: not part of the sealed batch")
    for name in sorted(recorded.keys() & actual.keys()):
        if recorded[name] != actual[name]:
            report.problems.append(f"{name}: changed since the batch was sealed")
    if seal.get("manifest_sha256") != recorded.get("manifest.csv", ""):
        report.problems.append(f"{SEAL_NAME}: manifest hash does not match its file list")
    report.problems += _manifest_problems(batch_dir)
    signature = seal.get("signature")
    if signature:
        report.signed = True
        if key is None:
            report.problems.append(
                f"{SEAL_NAME}: signed; give the key (--key) to check the signature"
            )
        else:
            expected = hmac.new(key, _canonical(seal), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, str(signature.get("value", ""))):
                report.problems.append(
                    f"{SEAL_NAME}: signature does not match (the seal was changed)"
                )
    return report
