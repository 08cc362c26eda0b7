"""E-mail events back from the mail system: delivered, bounced, complained, opted_out, replied.

A row names a message (`message_id`: ours, `20261120-021502-a3f9-E000001`, or its Message-ID
header), or, for an opt-out that came another way (a call, a letter), a `customer_id` and an
`address`. A hard bounce is evidence against the address; an opt-out, a complaint or a reply
saying STOP stops e-mail to it (12 CFR 1006.6(e), 1006.14(h)); each also cancels the messages
still queued for that address. Importing a file again changes nothing.
"""

from __future__ import annotations

from collections import Counter

from addresses.csvio import CsvTable, Reject, RowError, row_values
from letters.intake.channels import stop_kind
from letters.proof.events import ReconcileReport, when
from letters.state.protocol import StateStore
from letters.state.records import ContactEvent

EMAIL_EVENTS = ("delivered", "bounced", "complained", "opted_out", "replied")
ALIASES = {"bounce": "bounced", "complaint": "complained", "opt_out": "opted_out",
           "unsubscribed": "opted_out", "reply": "replied"}  # fmt: skip


def _event(values: dict[str, str]) -> tuple[str, str]:
    event = values["event"].strip().lower().replace(" ", "_").replace("-", "_")
    event = ALIASES.get(event, event)
    if event not in EMAIL_EVENTS:
        raise RowError("event", f"unknown {values['event']!r}; known: {', '.join(EMAIL_EVENTS)}")
    try:
        return event, when(values["timestamp"])
    except ValueError:
        raise RowError("timestamp", "not an ISO date or date-time") from None


def import_email_events(
    table: CsvTable, store: StateStore, imported_at: str, report: ReconcileReport
) -> None:
    """Import every row of an e-mail events file into the state (see the module docstring)."""
    for row in table.rows:
        report.rows += 1
        where = f"{table.name}:{row.line}"
        try:
            values = row_values(row, table.header)
            event, occurred = _event(values)
        except RowError as exc:
            report.rejects.append(Reject(table.name, row.line, exc.field_name, exc.reason, row.raw))
            continue
        reference = values.get("message_id", "").strip().strip("<>")
        message = (
            store.message(reference) or store.message_by_rfc_id(f"<{reference}>")
            if reference
            else None
        )
        if message is not None:
            customer, address, batch = message.customer_id, message.recipient, message.batch_id
        else:  # a message we do not know, or none: the row's own debtor and address
            customer = values.get("customer_id", "").strip()
            address = values.get("address", "").strip().lower()
            batch = ""
            if not (customer and address):
                report.unknown.append(f"{where}: unknown message {reference or '(none)'}")
                continue
        detail = values.get("detail", "").strip()
        item = ContactEvent(customer, "email", address, event, occurred,
                            message.message_id if message else "", detail)  # fmt: skip
        if not store.add_contact_event(item, imported_at):
            report.duplicates.append(f"{where}: {event} at {occurred} was imported before")
            continue
        report.imported += 1
        report.batches.setdefault(batch or "(no message)", Counter())[event] += 1
        if stop_kind(event, detail):
            report.evidence += 1
            for queued in store.messages(("queued",), customer_id=customer):
                if queued.recipient == address:
                    store.move_message(
                        queued.message_id, ("queued",), "cancelled", imported_at,
                        f"{event} recorded for this address",
                    )  # fmt: skip
