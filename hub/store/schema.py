"""Tables of the hub store. Alembic migrations in hub/migrations follow this file."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()
ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only
TS = DateTime(timezone=True)

contacts = Table(
    "contacts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("primary_email", String(320), index=True),
    Column("first_name", String(255)),
    Column("last_name", String(255)),
    Column("company_name", String(255)),
    Column("industry", String(120)),
    Column("employees", Integer),
    Column("annual_revenue", Float),
    Column("country", String(80)),
    Column("timezone", String(64)),
    Column("job_title", String(255)),
    Column("role", String(80)),
    Column("lifecycle_stage", String(80)),
    Column("owner", String(120)),
    Column("email_opt_out", Boolean, nullable=False, default=False),
    Column("do_not_contact", Boolean, nullable=False, default=False),
    Column(
        "consent_hold",
        JSON,
        doc="opt-outs said through CRM records merged away ({email_opt_out, do_not_contact}): kept in the flags",
    ),
    Column("properties", JSON, nullable=False, default=dict),
    Column("updated_at", TS, doc="newest source modification time"),
    Column("created_at", TS, nullable=False),
    Column("changed_at", TS, nullable=False, doc="when a sync last saw a real change"),
)

contact_emails = Table(
    "contact_emails",
    metadata,
    Column("email", String(320), primary_key=True, doc="normalized: stripped, lower-case"),
    Column("contact_id", ID, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True),
)

identities = Table(
    "identities",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("contact_id", ID, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("connector", String(40), nullable=False),
    Column("object_type", String(40), nullable=False),
    Column("external_id", String(120), nullable=False),
    Column("record", JSON, nullable=False, doc="the contact as this connector last reported it"),
    Column("record_hash", String(64), nullable=False, doc="hash of record without hub-written fields"),
    Column("crm_fields", JSON, nullable=False, default=dict, doc="hub fields as the CRM has them"),
    Column("lists", JSON, nullable=False, default=list),
    Column("owner", String(120)),
    Column("source_updated_at", TS),
    Column("synced_at", TS, nullable=False),
    UniqueConstraint("connector", "object_type", "external_id", name="uq_identity"),
)

activities = Table(
    "activities",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("contact_id", ID, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("channel", String(40)),
    Column("occurred_at", TS, nullable=False),
    Column("properties", JSON, nullable=False, default=dict),
    Column("source", String(40), nullable=False),
    Column("external_id", String(160), nullable=False),
    Column(
        "tx",
        BigInteger,
        nullable=False,
        server_default=FetchedValue(),
        doc="the inserting transaction's id on PostgreSQL, 0 on SQLite and before migration 0019: "
        "readers on a cursor follow commit order by it (hub/store/tail.py)",
    ),
    UniqueConstraint("source", "external_id", name="uq_activity_source"),
    Index("ix_activities_contact_time", "contact_id", "occurred_at"),
    Index(
        "ix_activities_tx",
        "tx",
        "id",
        postgresql_where=text("type IN ('opportunity_won', 'opportunity_lost')"),
        sqlite_where=text("type IN ('opportunity_won', 'opportunity_lost')"),
    ),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("connector", String(40), primary_key=True),
    Column("stream", String(40), primary_key=True),
    Column("cursor", Text),
    Column("records", BigInteger, nullable=False, default=0),
    Column("rejects", BigInteger, nullable=False, default=0),
    Column("last_started_at", TS),
    Column("last_finished_at", TS),
    Column("last_status", String(20)),
    Column("last_error", Text),
    Column("heartbeat_at", TS),  # a running sync's last lock renewal (wall clock): hub/status.py
)

connector_checks = Table(
    "connector_checks",
    metadata,
    Column("connector", String(40), primary_key=True),
    Column("ok", Boolean, nullable=False),
    Column("report", JSON, nullable=False),
    Column("checked_at", TS, nullable=False),
)

connector_usage = Table(
    "connector_usage",
    metadata,
    Column("connector", String(40), primary_key=True),
    Column("usage", JSON, nullable=False, doc="the connector's usage() after its last sync or push"),
    Column("seen_at", TS, nullable=False),
)

crm_owners = Table(
    "crm_owners",
    metadata,
    Column("connector", String(40), primary_key=True),
    Column("owner_id", String(120), primary_key=True, doc="in the connector's canonical_owner form"),
    Column("active", Boolean, nullable=False, doc="false: deactivated in the CRM (archived, IsActive false)"),
    Column("seen_at", TS, nullable=False, doc="the sync that read the CRM's owners"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("contact_id", ID, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("request_key", String(120), nullable=False, doc="makes a redelivered decide a no-op"),
    Column("policy", String(80), nullable=False),
    Column("policy_version", String(80), nullable=False),
    Column("propensity", Float, nullable=False),
    Column("arm", String(40), nullable=False),
    Column("explanation", Text, nullable=False),
    Column("actions", JSON, nullable=False),
    Column("created_at", TS, nullable=False, index=True),
    UniqueConstraint("contact_id", "request_key", name="uq_decision_request"),
)

pushes = Table(
    "pushes",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("decision_id", ID, ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("contact_id", ID, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("connector", String(40), nullable=False),
    Column("object_type", String(40), nullable=False),
    Column("external_id", String(120), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(20), nullable=False, doc="pending, sending, done, skipped, superseded, failed"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", TS, nullable=False),
    Column("lease_until", TS),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column(
        "bucket",
        Integer,
        nullable=False,
        server_default="0",
        doc="crc32 of the record id mod 64: push lanes split by it, so one record's writes share a lane",
    ),
    Index("ix_pushes_due", "connector", "state", "next_attempt_at"),
    Index("ix_pushes_record", "connector", "external_id"),
    Index(  # the fold on enqueue reads only open writes, whatever the record's history (migration 0014)
        "ix_pushes_pending_record",
        "connector",
        "external_id",
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("decision_id", ID, ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("activity_id", ID, ForeignKey("activities.id", ondelete="CASCADE"), nullable=False),
    Column("reward", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("decision_id", "activity_id", name="uq_outcome"),
)

unattributed_activities = Table(
    "unattributed_activities",
    metadata,
    Column(
        "activity_id",
        ID,
        ForeignKey("activities.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        doc="a stored activity not yet credited to a decision (written with it, deleted by attribution)",
    ),
)

model_snapshots = Table(
    "model_snapshots",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False),
    Column("version", Integer, nullable=False),
    Column("blob", LargeBinary, nullable=False),
    Column("metrics", JSON, nullable=False, default=dict),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("name", "version", name="uq_model_version"),
)

anonymous_events = Table(
    "anonymous_events",
    metadata,
    Column("event_id", String(160), primary_key=True, doc="the caller's event id: makes a resend a no-op"),
    Column("anonymous_id", String(120), index=True),
    Column("email", String(320), index=True, doc="normalized; set when the event named a person not known yet"),
    Column("type", String(40), nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("properties", JSON, nullable=False, default=dict),
    Column("contact_id", ID, index=True, doc="set once stitched; then the row maps anonymous_id to the contact"),
    Column("received_at", TS, nullable=False),
    Column("stitched_at", TS),
)

held_activities = Table(
    "held_activities",
    metadata,
    Column("source", String(40), primary_key=True),
    Column(
        "external_id", String(160), primary_key=True, doc="with source, the activity's key: holding twice is one row"
    ),
    Column("connector", String(40), doc="the identity it names (connector, object_type, external_id), if any"),
    Column("object_type", String(40)),
    Column("ref_id", String(120)),
    Column("email", String(320), index=True, doc="normalized; the address it names, if any"),
    Column("activity", JSON, nullable=False, doc="type, channel, occurred_at, properties"),
    Column("held_at", TS, nullable=False, index=True),
    Index("ix_held_activities_ref", "connector", "object_type", "ref_id"),
)

segment_messages = Table(
    "segment_messages",
    metadata,
    Column(
        "message_id", String(160), primary_key=True, doc="Segment's messageId (hashed if longer): a resend is a no-op"
    ),
    Column("type", String(20), nullable=False),
    Column("received_at", TS, nullable=False),
)

contact_profiles = Table(
    "contact_profiles",
    metadata,
    Column("contact_id", ID, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("profile", JSON, nullable=False, doc="day-bucketed activity counts (hub/profile.py)"),
    Column("updated_at", TS, nullable=False),
)

decision_features = Table(
    "decision_features",
    metadata,
    Column("decision_id", ID, ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True),
    Column("action", String(64), nullable=False, doc="catalog id chosen (wait for no action)"),
    Column("feature_version", String(40), nullable=False),
    Column("features", JSON, nullable=False, doc="the feature vector as of decision time"),
    Column("window_ends_at", TS, nullable=False, index=True, doc="created_at + the action's attribution window"),
    Column("final_at", TS, doc="created_at + a declared outcome's longer window; NULL: final at window_ends_at"),
    Column("reward", JSON, doc="weighted reward components, set when the window closes"),
    Column("reward_total", Float),
    Column("finalized_at", TS, index=True),
    Column("learned_version", Integer, doc="model snapshot version that learned from this row"),
    Column("trace", JSON, doc="per action at decide time: eligible or why not, score, probability (console inspector)"),
    Index("ix_decision_features_action_window", "action", "window_ends_at"),  # the day's handoffs, bounded
)

# ---- governance (hub/governance/) -----------------------------------------------------------
approvals = Table(
    "approvals",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("push_id", ID, ForeignKey("pushes.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("decision_id", ID, ForeignKey("decisions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("contact_id", ID, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(64), doc="catalog action id of the decision, when known"),
    Column("kind", String(40), nullable=False),
    Column("state", String(20), nullable=False, doc="awaiting, approved, rejected, expired"),
    Column("requested_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False, index=True),
    Column("decided_by", String(120)),
    Column("decided_at", TS),
    Column("note", Text),
    Index("ix_approvals_state", "state", "id"),
)

kill_switches = Table(
    "kill_switches",
    metadata,
    Column("use_case", String(40), primary_key=True),
    Column("is_on", Boolean, nullable=False),
    Column("source", String(20), nullable=False, doc="person or alert"),
    Column("alert_id", ID, doc="the alert that switched it on, if one did"),
    Column("by", String(120), nullable=False),
    Column("reason", Text),
    Column("updated_at", TS, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False, index=True),
    Column("actor", String(120), nullable=False),
    Column("action", String(40), nullable=False, doc="approve, reject, expire, kill_switch_on/off, alert_ack, ..."),
    Column("subject", String(200), nullable=False),
    Column("reason", Text),
    Column("details", JSON, nullable=False, default=dict),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("value", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("use_cases", JSON, nullable=False, default=list, doc="use cases this alert switched off"),
    Column("state", String(20), nullable=False, doc="open, acknowledged (still seen) or cleared (no longer seen)"),
    Column("raised_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
    Column("acked_by", String(120)),
    Column("acked_at", TS),
    Index("ix_alerts_open", "state", "kind", "subject"),
)

monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False, index=True),
    Column("alerts", Integer, nullable=False),
    Column("error", Text),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True, doc="SHA-256 of a normalized email or record id"),
    Column("kind", String(20), nullable=False, doc="email or identity"),
    Column("person", String(64), nullable=False, index=True, doc="digest of the email forget was asked for"),
    Column("created_at", TS, nullable=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True, doc="SHA-256 of the session id in the cookie (never the id itself)"),
    Column("username", String(60), nullable=False, index=True),
    Column("password_tag", String(64), nullable=False, doc="SHA-256 of the user's password hash at login"),
    Column("address", String(64), nullable=True, doc="the client address that logged in"),
    Column("created_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True, doc="set by logout"),
)
