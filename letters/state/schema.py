"""The SQLite schema: its migrations, applied in order and counted by `PRAGMA user_version`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from letters.state.base import transaction
from letters.state.records import StateError

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        as_of TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
        batch_dir TEXT NOT NULL,
        request_json TEXT NOT NULL,
        pid INTEGER,
        host TEXT,
        counts_json TEXT
    );
    CREATE TABLE letters (
        letter_key TEXT PRIMARY KEY,
        piece_id TEXT NOT NULL UNIQUE,
        batch_id TEXT NOT NULL REFERENCES batches(batch_id),
        customer_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        cycle TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'rendered')),
        article_number TEXT,
        pdf_path TEXT,
        pdf_sha256 TEXT,
        pages INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE INDEX letters_customer ON letters(customer_id);
    CREATE INDEX letters_batch ON letters(batch_id);
    CREATE TABLE letter_accounts (
        piece_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        PRIMARY KEY (piece_id, account_id)
    );
    CREATE TABLE decisions (
        batch_id TEXT NOT NULL,
        account_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        status TEXT NOT NULL,
        reason_code TEXT NOT NULL,
        reason_detail TEXT NOT NULL,
        stage TEXT NOT NULL,
        piece_id TEXT NOT NULL,
        PRIMARY KEY (batch_id, account_id)
    );
    CREATE INDEX decisions_customer ON decisions(customer_id);
    CREATE TABLE forced (
        id INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        forced_piece_id TEXT NOT NULL,
        letter_key TEXT NOT NULL,
        operator TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE address_evidence (
        id INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        source TEXT NOT NULL,
        line1 TEXT NOT NULL, line2 TEXT NOT NULL, city TEXT NOT NULL, state TEXT NOT NULL,
        zip TEXT NOT NULL, country TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        status TEXT NOT NULL,
        ref TEXT NOT NULL UNIQUE
    );
    CREATE TABLE article_pool (
        article_number TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('free', 'used')),
        piece_id TEXT,
        used_at TEXT
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        piece_id TEXT,
        article_number TEXT,
        event TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        detail TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        UNIQUE (piece_id, article_number, event, occurred_at)
    );
    """,
    # 2: what the decisions need to know of earlier letters
    """
    ALTER TABLE letters ADD COLUMN mail_date TEXT;
    ALTER TABLE letters ADD COLUMN kind TEXT;
    ALTER TABLE letters ADD COLUMN recipient_role TEXT
    """,
    # 3: where accountable-mail numbers come from, and barcode serials
    """
    ALTER TABLE article_pool ADD COLUMN pool TEXT;
    ALTER TABLE article_pool ADD COLUMN ordinal INTEGER;
    CREATE INDEX article_pool_free ON article_pool(pool, state, ordinal);
    ALTER TABLE letters ADD COLUMN imb_serial INTEGER;
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)
    """,
    # 4: the address each piece was sent to (returned mail becomes evidence against it)
    """
    ALTER TABLE letters ADD COLUMN address_json TEXT;
    CREATE INDEX letters_article ON letters(article_number);
    CREATE INDEX evidence_customer ON address_evidence(customer_id)
    """,
    # 5: a batch closed by a later run (its rendered letters sealed, the rest released). SQLite
    # cannot change a CHECK in place: the table is copied (foreign keys are off while migrating,
    # so the letters' reference to `batches` holds on to the new table).
    """
    CREATE TABLE batches_with_closed (
        batch_id TEXT PRIMARY KEY,
        as_of TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'complete', 'interrupted', 'failed', 'closed')),
        batch_dir TEXT NOT NULL,
        request_json TEXT NOT NULL,
        pid INTEGER,
        host TEXT,
        counts_json TEXT
    );
    INSERT INTO batches_with_closed SELECT * FROM batches;
    DROP TABLE batches;
    ALTER TABLE batches_with_closed RENAME TO batches
    """,
    # 6: template approvals: who approved which template set (file name -> SHA-256), and when
    """
    CREATE TABLE template_approvals (
        approval_id INTEGER PRIMARY KEY,
        approved_at TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        note TEXT NOT NULL,
        files_json TEXT NOT NULL
    )
    """,
    # 7: each account's payment reference, registered once: unique per account, kept forever
    """
    CREATE TABLE payment_references (
        reference TEXT PRIMARY KEY,
        account_id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    )
    """,
    # 8: the review queue (debtors held for their address) and the reviewers' decisions
    """
    CREATE TABLE review_queue (
        customer_id TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('open', 'decided')),
        first_held TEXT NOT NULL,
        opened_on TEXT NOT NULL,
        batch_id TEXT NOT NULL,
        as_of TEXT NOT NULL,
        reasons TEXT NOT NULL,
        choice_json TEXT NOT NULL,
        accounts_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE review_decisions (
        decision_id INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        opened_on TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('accept', 'address', 'not_mailable', 'leave')),
        candidate INTEGER,
        line1 TEXT NOT NULL DEFAULT '',
        line2 TEXT NOT NULL DEFAULT '',
        city TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT '',
        zip TEXT NOT NULL DEFAULT '',
        country TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        reviewer TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        via TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        effective_on TEXT NOT NULL,
        fingerprint TEXT NOT NULL UNIQUE
    );
    CREATE INDEX review_decisions_customer ON review_decisions(customer_id);
    CREATE TABLE held_letters (
        piece_id TEXT PRIMARY KEY,
        batch_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        letter_key TEXT NOT NULL,
        stage TEXT NOT NULL,
        cycle TEXT NOT NULL,
        reason TEXT NOT NULL,
        pdf_path TEXT NOT NULL,
        pdf_sha256 TEXT NOT NULL,
        pages INTEGER NOT NULL,
        facts_json TEXT NOT NULL,
        rows_json TEXT NOT NULL,
        held_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('held', 'released', 'voided', 'mailed')),
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        released_batch TEXT NOT NULL DEFAULT ''
    )
    """,
    # 9: channels besides the letter: contact points with their consent, messages, their events
    """
    CREATE TABLE contact_points (
        customer_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        value TEXT NOT NULL,
        consent_basis TEXT NOT NULL,
        consent_date TEXT NOT NULL DEFAULT '',
        esign_consent INTEGER NOT NULL,
        opted_out_at TEXT NOT NULL DEFAULT '',
        is_work INTEGER NOT NULL,
        source TEXT NOT NULL,
        batch_id TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        fingerprint TEXT NOT NULL UNIQUE
    );
    CREATE INDEX contact_points_customer ON contact_points(customer_id);
    CREATE TABLE messages (
        message_id TEXT PRIMARY KEY,
        message_key TEXT NOT NULL,
        batch_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        stage TEXT NOT NULL,
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        rfc_message_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('pending', 'queued', 'sending', 'sent',
            'delivery_unknown', 'failed', 'expired', 'cancelled')),
        window_json TEXT NOT NULL,
        eml_path TEXT NOT NULL DEFAULT '',
        eml_sha256 TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        queued_at TEXT NOT NULL DEFAULT '',
        sent_at TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE UNIQUE INDEX messages_live_key ON messages(message_key)
        WHERE status NOT IN ('failed', 'expired', 'cancelled');
    CREATE INDEX messages_customer ON messages(customer_id);
    CREATE INDEX messages_status ON messages(status);
    CREATE TABLE contact_events (
        event_id INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        value TEXT NOT NULL,
        event TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        message_id TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        imported_at TEXT NOT NULL,
        UNIQUE (customer_id, value, event, occurred_at, message_id)
    );
    CREATE INDEX contact_events_customer ON contact_events(customer_id)
    """,
)


def migrate(db: sqlite3.Connection, db_path: Path) -> None:
    """Bring a database up to the newest schema, one migration per transaction."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StateError(f"{db_path}: made by a newer letters (schema {version})")
    if version == len(MIGRATIONS):
        return
    # A migration may copy a table others refer to; the references are checked after it.
    db.execute("PRAGMA foreign_keys=OFF")
    try:
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with transaction(db):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                if db.execute("PRAGMA foreign_key_check").fetchone():
                    raise StateError(f"{db_path}: migration {number} broke a reference")
                db.execute(f"PRAGMA user_version = {number}")
    finally:
        db.execute("PRAGMA foreign_keys=ON")
