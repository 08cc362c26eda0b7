"""Disclosures: the debt-collector notice (mini-Miranda) and state notices from the data file."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

CFPB_URL = "www.cfpb.gov/debt-collection"


@dataclass(frozen=True, slots=True)
class StateNotice:
    """One state's notice for one kind of sender."""

    state: str
    sender_kinds: tuple[str, ...]
    applies_to: str  # first, all, time_barred
    cite: str
    text: str


@functools.cache
def state_notices() -> tuple[StateNotice, ...]:
    """The shipped state notices."""
    text = resources.files("letters").joinpath("data/state_notices.toml").read_text("utf-8")
    return tuple(
        StateNotice(n["state"], tuple(n["sender_kinds"]), n["applies_to"], n["cite"], n["text"])
        for n in tomllib.loads(text)["notice"]
    )


def notices_for(
    state: str, sender_kind: str, first_contact: bool, time_barred: bool, creditor: str
) -> list[str]:
    """The state notice texts a letter to `state` needs, in data-file order."""
    texts = []
    for notice in state_notices():
        if notice.state != state or sender_kind not in notice.sender_kinds:
            continue
        due = {"all": True, "first": first_contact, "time_barred": time_barred}[notice.applies_to]
        if due:
            texts.append(notice.text.replace("{creditor}", creditor))
    return texts


def mini_miranda(sender_name: str, creditor: str, first_contact: bool, language: str) -> str:
    """§1006.18(e): the initial disclosure on a first letter, the short one on later letters."""
    if language == "es":
        if first_contact:
            return (
                f"{sender_name} es un cobrador de deudas. Estamos tratando de cobrar una deuda que "
                f"usted le debe a {creditor}. Usaremos cualquier información que nos dé para "
                "ayudar a cobrar la deuda."
            )
        return "Esta comunicación es de un cobrador de deudas."
    if first_contact:
        return (
            f"{sender_name} is a debt collector. We are trying to collect a debt that you owe to "
            f"{creditor}. We will use any information you give us to help collect the debt."
        )
    return "This communication is from a debt collector."
