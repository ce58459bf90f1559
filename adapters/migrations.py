"""Forward-only schema migrations of the store.

Each migration is a list of statements applied in one transaction and then
recorded in ``schema_migrations``. Dialect tokens (``{real}``, ``{blob}``) are
filled in by the dialect; everything else is plain SQL both SQLite and
PostgreSQL accept. Never edit a released migration: append a new one.
"""

from __future__ import annotations

V1_TABLES = """
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT,
    name_kana TEXT,
    company TEXT,
    region TEXT,
    store TEXT,
    language TEXT,
    notes TEXT,
    other TEXT,
    created_at TEXT,
    updated_at TEXT,
    extra TEXT
);
CREATE TABLE customer_phones (
    parent_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    phone TEXT,
    PRIMARY KEY (parent_id, pos)
);
CREATE TABLE customer_emails (
    parent_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    email TEXT,
    PRIMARY KEY (parent_id, pos)
);
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    site TEXT,
    campaign TEXT,
    customer_id TEXT,
    customer_name TEXT,
    phone TEXT,
    email TEXT,
    address TEXT,
    city TEXT,
    status TEXT,
    payment_method TEXT,
    payment_status TEXT,
    total {real},
    delivery_cost {real},
    currency TEXT,
    support_called BOOLEAN,
    manager TEXT,
    delivery_method TEXT,
    delivery_date TEXT,
    timezone TEXT,
    created_at TEXT,
    updated_at TEXT,
    extra TEXT
);
CREATE TABLE order_items (
    parent_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    sku TEXT,
    name TEXT,
    qty BIGINT,
    price {real},
    supplier_group TEXT,
    PRIMARY KEY (parent_id, pos)
);
CREATE TABLE order_flags (
    parent_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    flag TEXT,
    PRIMARY KEY (parent_id, pos)
);
CREATE TABLE order_comments (
    parent_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    at TEXT,
    author TEXT,
    text TEXT,
    PRIMARY KEY (parent_id, pos)
);
CREATE TABLE order_status_history (
    parent_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    at TEXT,
    status TEXT,
    actor TEXT,
    PRIMARY KEY (parent_id, pos)
);
CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    mailbox TEXT,
    subject TEXT,
    customer_id TEXT,
    last_message_at TEXT,
    extra TEXT
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    mailbox TEXT,
    folder TEXT,
    uid BIGINT,
    thread_id TEXT,
    in_reply_to TEXT,
    date TEXT,
    from_addr TEXT,
    from_name TEXT,
    to_addrs TEXT,
    cc_addrs TEXT,
    reply_to TEXT,
    subject TEXT,
    body_text TEXT,
    has_attachments BOOLEAN,
    attachments TEXT,
    seen BOOLEAN,
    flagged BOOLEAN,
    headers TEXT,
    raw {blob},
    extra TEXT
);
CREATE TABLE message_labels (
    parent_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    label TEXT,
    PRIMARY KEY (parent_id, pos)
);
CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    source TEXT,
    line TEXT,
    direction TEXT,
    status TEXT,
    started_at TEXT,
    caller TEXT,
    caller_name TEXT,
    callee TEXT,
    answered_by TEXT,
    duration BIGINT,
    talk_seconds BIGINT,
    cost {real},
    extra TEXT
);
CREATE TABLE returns (
    id TEXT PRIMARY KEY,
    order_id TEXT,
    type TEXT,
    reason TEXT,
    status TEXT,
    items TEXT,
    pickup_point TEXT,
    handed_in_at TEXT,
    refund_method TEXT,
    refund_details TEXT,
    refund_amount {real},
    payout_date TEXT,
    exchange_order_id TEXT,
    created_at TEXT,
    extra TEXT
);
CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    name TEXT,
    store TEXT,
    role TEXT,
    services TEXT,
    extra TEXT
);
CREATE TABLE rooms (
    id TEXT PRIMARY KEY,
    store TEXT,
    name TEXT,
    kind TEXT,
    capacity BIGINT,
    extra TEXT
);
CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    store TEXT,
    customer_id TEXT,
    customer_name TEXT,
    contact TEXT,
    email TEXT,
    service TEXT,
    starts_at TEXT,
    ends_at TEXT,
    staff_id TEXT,
    room_id TEXT,
    channel TEXT,
    status TEXT,
    created_at TEXT,
    updated_at TEXT,
    notes TEXT,
    satisfaction BIGINT,
    extra TEXT
);
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    customer_id TEXT,
    agent TEXT,
    channel TEXT,
    topic TEXT,
    subject TEXT,
    body TEXT,
    caller_number TEXT,
    status TEXT,
    product TEXT,
    opened_at TEXT,
    started_at TEXT,
    closed_at TEXT,
    tags TEXT,
    extra TEXT
);
CREATE TABLE report_records (
    id TEXT PRIMARY KEY,
    kind TEXT,
    date TEXT,
    subject TEXT,
    customer TEXT,
    store TEXT,
    source TEXT,
    data TEXT,
    created_at TEXT
);
CREATE TABLE call_attempts (
    id TEXT PRIMARY KEY,
    target TEXT,
    agent TEXT,
    at TEXT,
    outcome TEXT,
    note TEXT
);
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    target TEXT,
    author TEXT,
    at TEXT,
    text TEXT
);
CREATE TABLE claims (
    id TEXT PRIMARY KEY,
    agent TEXT,
    claimed_at TEXT,
    expires_at TEXT
);
CREATE TABLE checkpoints (
    id TEXT PRIMARY KEY,
    value TEXT,
    updated_at TEXT
);
CREATE TABLE journal_runs (
    run_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    command TEXT NOT NULL,
    actor TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    undo_of TEXT,
    undone_by TEXT,
    summary TEXT
);
CREATE TABLE journal_entries (
    run_id TEXT NOT NULL REFERENCES journal_runs(run_id),
    seq INTEGER NOT NULL,
    backend TEXT NOT NULL,
    target TEXT NOT NULL,
    field TEXT NOT NULL,
    op TEXT NOT NULL,
    before TEXT,
    after TEXT,
    reason TEXT,
    outcome TEXT NOT NULL,
    error TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX ix_customer_phones_phone ON customer_phones(phone);
CREATE INDEX ix_customer_emails_email ON customer_emails(email);
CREATE INDEX ix_orders_status ON orders(status);
CREATE INDEX ix_orders_phone ON orders(phone);
CREATE INDEX ix_orders_created ON orders(created_at);
CREATE INDEX ix_messages_thread ON messages(thread_id);
CREATE INDEX ix_messages_date ON messages(date);
CREATE INDEX ix_calls_started ON calls(started_at);
CREATE INDEX ix_calls_caller ON calls(caller);
CREATE INDEX ix_call_attempts_target ON call_attempts(target, at);
CREATE INDEX ix_reservations_starts ON reservations(starts_at);
CREATE INDEX ix_cases_customer ON cases(customer_id);
CREATE INDEX ix_journal_runs_started ON journal_runs(started_at);
CREATE INDEX ix_report_records_kind_date ON report_records(kind, date);
CREATE INDEX ix_message_labels_label ON message_labels(label)
"""

# Calls get the caller's number in E.164 (the key of missed-call reconciliation) and the
# call a leg belongs to (Asterisk and Twilio log one row per leg). Misses get their own
# covering index in caller order, so the callback list groups a month of misses per caller
# without touching the rows or sorting them; the number index carries the source for the
# Twilio rule of what counts as a contact.
# The index on the caller as written goes: lookups use the number, and every index costs
# a million-row import its time.
V2_CALLS = """
ALTER TABLE calls ADD COLUMN number TEXT;
ALTER TABLE calls ADD COLUMN call_group TEXT;
DROP INDEX ix_calls_caller;
CREATE INDEX ix_calls_number ON calls(number, status, started_at, source);
CREATE INDEX ix_calls_group ON calls(call_group);
CREATE INDEX ix_calls_twilio ON calls(started_at) WHERE source = 'twilio' AND direction = 'inbound';
CREATE INDEX ix_calls_misses
    ON calls(number, started_at, line, callee, caller, caller_name, call_group, id, status,
             direction)
    WHERE direction = 'inbound' AND status <> 'answered'
"""


def _statements(text: str) -> list[str]:
    return [s.strip() for s in text.split(";") if s.strip()]


# The daily report asks every table for one day: each gets an index on its time.
V3_REPORT = """
CREATE INDEX ix_cases_closed ON cases(closed_at);
CREATE INDEX ix_call_attempts_at ON call_attempts(at);
CREATE INDEX ix_returns_created ON returns(created_at);
CREATE INDEX ix_returns_payout ON returns(payout_date);
CREATE INDEX ix_journal_entries_at ON journal_entries(at)
"""

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "domain records and journal", _statements(V1_TABLES)),
    (2, "calls: caller number and call legs", _statements(V2_CALLS)),
    (3, "indexes for the report's day windows", _statements(V3_REPORT)),
]
