-- The outbox draws each event's position itself, under the outbox writers' advisory lock, so
-- that an insert needs no separate `SELECT pg_advisory_xact_lock(..)` round trip first (one
-- round trip is about a tenth of an opening's write on PostgreSQL: docs/BENCHMARK.md, "Fewer
-- round trips per write").
--
-- Why the lock (crate::outbox::append): readers must never skip an event that commits late.
-- Positions come from a sequence, and two transactions may commit in the opposite order of the
-- positions they drew. Taking the transaction-scoped lock before drawing makes writers queue:
-- each one's position is drawn and committed before the next one draws. A column DEFAULT would
-- draw before any trigger runs, so the default goes and this BEFORE trigger draws after the lock.
-- Every insert into the table is ordered this way, not only those made through `append`.
-- The key is "outbox" in ASCII (0x6f7574626f78), as in the register trigger of
-- 2026-12-02-000014_decision_marks; persistence::tests checks that both use it.

CREATE FUNCTION outbox_position_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(122550254464888);
    NEW.id := nextval('outbox_id_seq');
    RETURN NEW;
END
$$;

ALTER TABLE outbox ALTER COLUMN id DROP DEFAULT;

CREATE TRIGGER outbox_position_in_commit_order BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_position_in_commit_order();
