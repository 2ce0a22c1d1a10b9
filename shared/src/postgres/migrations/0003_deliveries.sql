-- Deliveries: the record of every attempt and the retry queue several instances share (as the
-- embedded `deliveries.db` keeps them). Times are Unix milliseconds; text compares byte for
-- byte (COLLATE "C"), as SQLite's does.
--
-- `due_at` is the next attempt while pending, NULL once over. An instance takes what is due by
-- claiming it: `claimed_by` (its id) until `claimed_until` (its wall clock plus its lease).
-- Another instance's live claim hides a row from the queue; a claim that ended (a crashed
-- instance's) does not. Saving a delivery clears its claim.
CREATE TABLE deliveries (
    id            text COLLATE "C" PRIMARY KEY, -- {event_id}.{channel}.{recipient}
    tenant        text COLLATE "C" NOT NULL,
    approval_id   uuid NOT NULL,
    channel       text NOT NULL,                -- email, webhook, callback, slack
    status        text NOT NULL,                -- pending, delivered, failed, skipped
    created_at    bigint NOT NULL,
    due_at        bigint,
    claimed_by    uuid,
    claimed_until bigint,
    body          text NOT NULL,                -- the delivery, as JSON
    CONSTRAINT deliveries_due_pending CHECK ((due_at IS NULL) = (status <> 'pending')),
    CONSTRAINT deliveries_claim CHECK ((claimed_by IS NULL) = (claimed_until IS NULL))
);

-- The queue: only pending rows are in it.
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
-- Reviewers' messages, read apart from callbacks: however many callbacks wait on dead
-- receivers, this walk never passes them.
CREATE INDEX deliveries_due_messages ON deliveries (due_at)
    WHERE due_at IS NOT NULL AND channel <> 'callback';
CREATE INDEX deliveries_of ON deliveries (tenant, approval_id, created_at, id);
CREATE INDEX deliveries_recent ON deliveries (tenant, created_at);
CREATE INDEX deliveries_newest ON deliveries (created_at);
