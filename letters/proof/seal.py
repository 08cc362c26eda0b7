"""The batch seal: `batch.json` lists every file of the batch with its SHA-256, and may be signed.

Any later change to a PDF, the manifest, another file or the seal itself is detectable by
`verify_batch`: a file missing, added or changed is named, and so is anything a sealed batch never
holds (a temporary file, a symbolic link, an empty folder the seal does not list); a signature that
does not match the seal's content (HMAC-SHA256 with the operator's key) is reported, and with a key
(or a policy that requires signatures) so is a seal without a signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letters.errors import ExitCode, LettersError, UsageError
from letters.fsutil import sha256_file, write_text_atomic
from letters.intake.policy import Policy

SEAL_NAME = "batch.json"
SIGNATURE_ALGORITHM = "hmac-sha256"
TEMPORARY_PREFIX = ".tmp-"
# The folders a batch sealed before seals listed their folders may hold (even empty).
USUAL_FOLDERS = ("held", "pdf")


class SealError(LettersError):
    """The seal cannot be signed as the policy demands (no key, or a key that cannot be read)."""

    exit_code = ExitCode.FATAL


def read_key(key_path: Path) -> bytes:
    """An HMAC key from a file (surrounding white space ignored)."""
    key = key_path.read_bytes().strip()
    if len(key) < 16:
        raise ValueError(f"{key_path}: a signing key needs at least 16 bytes")
    return key


def signing_key(key_path: Path | None, required: bool) -> bytes | None:
    """The key a run signs its seal with; checked before anything is rendered.

    Raises `SealError` when the key file cannot be used, or when the policy requires a signature
    (`[seal] require_signature`) and no key is configured.
    """
    if key_path is None:
        if required:
            raise SealError(
                "[seal] require_signature: the policy requires a signed seal, but no key is "
                "configured (give --seal-key FILE or [seal] hmac_key_file)"
            )
        return None
    try:
        return read_key(key_path)
    except ValueError as exc:
        raise SealError(f"seal key: {exc}") from None
    except OSError as exc:
        raise SealError(f"seal key: {key_path}: {exc.strerror or exc}") from None


@dataclass(slots=True)
class BatchContents:
    """What a batch folder holds: regular files with their hashes, folders, and what a sealed
    batch never holds (temporary files, symbolic links, anything but files and folders)."""

    files: dict[str, str] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    empty_folders: list[str] = field(default_factory=list)


def batch_contents(batch_dir: Path) -> BatchContents:
    """Walk the batch folder without following links; hash every regular file but the seal."""
    found = BatchContents()
    for root, dirs, names in os.walk(batch_dir):
        root_path = Path(root)
        if root_path != batch_dir and not dirs and not names:
            found.empty_folders.append(root_path.relative_to(batch_dir).as_posix())
        for name in [*dirs, *names]:
            path = root_path / name
            relative = path.relative_to(batch_dir).as_posix()
            if path.is_symlink():
                found.strays.append(f"{relative}: a symbolic link, not a file of the batch")
            elif name.startswith(TEMPORARY_PREFIX):
                found.strays.append(f"{relative}: a temporary file left by an unfinished write")
            elif path.is_dir():
                found.folders.append(relative)
            elif not path.is_file():
                found.strays.append(f"{relative}: not a regular file")
            elif relative != SEAL_NAME:
                found.files[relative] = sha256_file(path)
    found.files = dict(sorted(found.files.items()))
    found.folders.sort()
    found.strays.sort()
    found.empty_folders.sort()
    return found


def file_hashes(batch_dir: Path) -> dict[str, str]:
    """Every regular file below the batch folder but the seal, by relative path, with its SHA-256
    (temporary files and symbolic links are never part of a batch)."""
    return batch_contents(batch_dir).files


def _canonical(seal: dict[str, Any]) -> bytes:
    body = {k: v for k, v in seal.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _digest(key: bytes, seal: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(seal), hashlib.sha256).hexdigest()


def write_seal(batch_dir: Path, info: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    """Write batch.json: `info` plus every file's hash and every folder, signed when a key is
    given."""
    contents = batch_contents(batch_dir)
    files = contents.files
    seal = {
        **info,
        "files": files,
        "folders": contents.folders,
        "manifest_sha256": files.get("manifest.csv", ""),
    }
    if key is not None:
        seal["signature"] = {"algorithm": SIGNATURE_ALGORITHM, "value": _digest(key, seal)}
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


def verify_batch(
    batch_dir: Path, key: bytes | None, require_signature: bool = False
) -> VerifyReport:
    """Recompute every hash and the signature; name each missing, extra or changed file, each
    temporary file, symbolic link or empty folder. With a key (or `require_signature`) a seal
    without a signature fails: a forger can strip one, but not make one."""
    report = VerifyReport()
    seal_path = batch_dir / SEAL_NAME
    try:
        if seal_path.is_symlink():
            raise ValueError("a symbolic link")
        seal = json.loads(seal_path.read_text(encoding="utf-8"))
        recorded: dict[str, str] = dict(seal["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{SEAL_NAME}: missing or unreadable ({exc.__class__.__name__})")
        return report
    contents = batch_contents(batch_dir)
    actual = contents.files
    report.checked = len(actual)
    linked = {stray.split(": ", 1)[0] for stray in contents.strays}
    for name in sorted(recorded.keys() - actual.keys() - linked):
        report.problems.append(f"{name}: missing")
    for name in sorted(actual.keys() - recorded.keys()):
        report.problems.append(f"{name}: not part of the sealed batch")
    for name in sorted(recorded.keys() & actual.keys()):
        if recorded[name] != actual[name]:
            report.problems.append(f"{name}: changed since the batch was sealed")
    report.problems += contents.strays
    report.problems += _folder_problems(seal, contents)
    if seal.get("manifest_sha256") != recorded.get("manifest.csv", ""):
        report.problems.append(f"{SEAL_NAME}: manifest hash does not match its file list")
    report.problems += _manifest_problems(batch_dir)
    report.signed = bool(seal.get("signature"))
    report.problems += _signature_problems(seal, key, require_signature)
    return report


def _folder_problems(seal: dict[str, Any], contents: BatchContents) -> list[str]:
    """Empty folders the seal does not list, and listed folders that are gone."""
    sealed = seal.get("folders")
    folders = set(sealed) if isinstance(sealed, list) else set(USUAL_FOLDERS)
    problems = [
        f"{name}/: an empty folder, not part of the sealed batch"
        for name in contents.empty_folders
        if name not in folders
    ]
    if isinstance(sealed, list):
        problems += [f"{name}/: folder missing" for name in sorted(folders - set(contents.folders))]
    return problems


def _signature_problems(seal: dict[str, Any], key: bytes | None, required: bool) -> list[str]:
    """What is wrong with the seal's signature, given the key (if any) and the policy."""
    signature = seal.get("signature")
    if not signature:
        if key is not None:
            return [f"{SEAL_NAME}: not signed, but a key was given (a signature removed?)"]
        if required:
            return [f"{SEAL_NAME}: not signed, but the policy requires a signed seal"]
        return []
    if not isinstance(signature, dict) or signature.get("algorithm") != SIGNATURE_ALGORITHM:
        return [f"{SEAL_NAME}: signature unreadable or of an unknown algorithm"]
    if key is None:
        return [f"{SEAL_NAME}: signed; give the key (--key) to check the signature"]
    if not hmac.compare_digest(_digest(key, seal), str(signature.get("value", ""))):
        return [f"{SEAL_NAME}: signature does not match (the seal was changed)"]
    return []


def verify_with_policy(
    batch_dir: Path, key_path: Path | None, policy: Policy | None
) -> VerifyReport:
    """`verify_batch` with the key from `key_path`, else the policy's `[seal] hmac_key_file`, and
    the policy's `require_signature`. A key file that cannot be read raises `UsageError`."""
    if key_path is None and policy is not None:
        key_path = policy.seal_key_file
    key = None
    if key_path is not None:
        try:
            key = read_key(key_path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--key: {exc}") from None
    required = policy is not None and policy.seal_require_signature
    return verify_batch(batch_dir, key, required)
