DROP TRIGGER outbox_position_in_commit_order ON outbox;
DROP FUNCTION outbox_position_in_commit_order();
ALTER TABLE outbox ALTER COLUMN id SET DEFAULT nextval('outbox_id_seq');
