"""The hub's SQLite schema, as an ordered list of migrations.

``PRAGMA user_version`` records how many have been applied; each migration runs once,
in its own transaction. Never edit a released migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the alliance's records
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE members (
        name TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        addresses TEXT NOT NULL,
        applied_at REAL NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        policy TEXT
    );
    -- Every input to the council, in order: replaying it rebuilds the council's state.
    CREATE TABLE inputs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE signals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        input_seq INTEGER NOT NULL,
        member TEXT NOT NULL,
        target TEXT NOT NULL,
        scenario TEXT NOT NULL,
        at REAL NOT NULL,
        events INTEGER NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE INDEX signals_target ON signals (target);
    CREATE INDEX signals_input ON signals (input_seq);
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        scope TEXT NOT NULL,
        action TEXT NOT NULL,
        scenario TEXT NOT NULL,
        clause TEXT NOT NULL,
        members TEXT NOT NULL,
        issued_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        offence INTEGER NOT NULL,
        recommended INTEGER NOT NULL,
        treaty TEXT NOT NULL,
        applies_to TEXT NOT NULL,
        revoked_at REAL,
        revoked_by TEXT,
        revoke_reason TEXT,
        revoke_clause TEXT
    );
    CREATE INDEX decisions_target ON decisions (target);
    CREATE INDEX decisions_expiry ON decisions (expires_at);
    CREATE TABLE consultations (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        scenario TEXT NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE disputes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        member TEXT NOT NULL,
        target TEXT NOT NULL,
        scenario TEXT NOT NULL,
        at REAL NOT NULL,
        protected TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    -- The decision stream: its ids are the SSE event ids.
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL
    );
    """,
    # 2: external partners (members without a key) and history queries for interop
    """
    ALTER TABLE members ADD COLUMN external INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX decisions_issued ON decisions (issued_at);
    CREATE INDEX decisions_revoked ON decisions (revoked_at) WHERE revoked_at IS NOT NULL;
    CREATE INDEX signals_at ON signals (at);
    """,
    # 3: checkpoints of the council's state (replay starts after the newest valid one)
    """
    CREATE TABLE checkpoints (
        seq INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        written_at REAL NOT NULL,
        format INTEGER NOT NULL,
        built_by TEXT NOT NULL,
        treaty TEXT NOT NULL,
        treaty_label TEXT NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX events_at ON events (at);
    CREATE INDEX inputs_at ON inputs (at);
    """,
)
