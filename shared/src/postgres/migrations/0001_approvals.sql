-- Approvals and their audit chains (issue 28), as the embedded store keeps them: one row per
-- approval (its JSON, kept as text byte for byte, beside the columns the list filters and the
-- due query use), one per audit record, one per idempotency key, one per (reviewer, approval)
-- for the reviewer filter; signed checkpoints and what each recorded. Times are Unix ms. Ids are
-- text in the "C" collation, so keyset pages order them as the cursor (a UUID) does.

CREATE TABLE approvals (
    id              text COLLATE "C" PRIMARY KEY,
    tenant          text COLLATE "C" NOT NULL,
    created_at      bigint NOT NULL,
    status          text NOT NULL,   -- as stored; a pending one past expires_at reads as expired
    expires_at      bigint NOT NULL,
    agent_id        text NOT NULL,
    checkpoint_type text,
    version         bigint NOT NULL,
    head_seq        bigint NOT NULL, -- the audit chain's last sequence
    published_seq   bigint NOT NULL, -- events published up to here (over the body's own)
    due_at          bigint,          -- when the sweep must look at it; NULL: never
    body            text NOT NULL,   -- the approval, as JSON
    moved           boolean,         -- true: its chain moved since a checkpoint recorded it
    claimed_by      text,            -- the instance handling it now (sweep, or its writer)
    claimed_until   bigint           -- until when that claim holds (wall clock)
);
CREATE INDEX approvals_newest ON approvals (tenant, created_at, id);
CREATE INDEX approvals_by_status ON approvals (tenant, status, created_at, id);
CREATE INDEX approvals_by_agent ON approvals (tenant, agent_id, created_at, id);
CREATE INDEX approvals_by_checkpoint ON approvals (tenant, checkpoint_type, created_at, id)
    WHERE checkpoint_type IS NOT NULL;
-- Sparse: only what the sweep must ever look at, so finding what is due costs what is due.
CREATE INDEX approvals_due ON approvals (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX approvals_moved ON approvals (id) WHERE moved;

CREATE TABLE reviewers (
    tenant      text COLLATE "C" NOT NULL,
    reviewer    text NOT NULL,
    created_at  bigint NOT NULL,
    approval_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, reviewer, created_at, approval_id)
);

CREATE TABLE audit (
    approval_id text COLLATE "C" NOT NULL,
    sequence    bigint NOT NULL,
    body        text NOT NULL, -- the record, as JSON
    PRIMARY KEY (approval_id, sequence)
);

CREATE TABLE checkpoints (
    tenant   text COLLATE "C" NOT NULL,
    sequence bigint NOT NULL,
    hash     text NOT NULL, -- the checkpoint's hash: the next one's prev_hash
    body     text NOT NULL, -- the checkpoint, as JSON
    PRIMARY KEY (tenant, sequence)
);

CREATE TABLE checkpoint_heads (
    tenant         text COLLATE "C" NOT NULL,
    approval_id    text COLLATE "C" NOT NULL,
    checkpoint_seq bigint NOT NULL,
    head_seq       bigint NOT NULL,
    head_hash      text NOT NULL,
    PRIMARY KEY (tenant, approval_id, checkpoint_seq)
);

-- Audit records and checkpoints are append-only: the database refuses UPDATE, DELETE and
-- TRUNCATE of them (an INSERT … ON CONFLICT DO UPDATE is an UPDATE). A hand edit must drop these
-- triggers first; verification still catches what it then changes.
CREATE FUNCTION holdpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION holdpoint_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION holdpoint_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION holdpoint_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION holdpoint_append_only();
CREATE TRIGGER checkpoint_heads_append_only BEFORE UPDATE OR DELETE ON checkpoint_heads
    FOR EACH ROW EXECUTE FUNCTION holdpoint_append_only();
CREATE TRIGGER checkpoint_heads_no_truncate BEFORE TRUNCATE ON checkpoint_heads
    FOR EACH STATEMENT EXECUTE FUNCTION holdpoint_append_only();

CREATE TABLE idempotency (
    tenant       text COLLATE "C" NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    approval_id  text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, key)
);
