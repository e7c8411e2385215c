-- +goose Up
-- The relay claims a batch in one short statement and publishes it with no
-- transaction open: claimed_until is the end of the claim's lease. A claimed
-- row is left to its relay until then; a relay that dies between its claim
-- and its record leaves the lease to run out, and the row goes again
-- (JetStream's duplicate window drops the copy). NULL: not claimed.
--
-- No index change: the relay's claim reads outbox_unpublished in seq order
-- and checks claimed_until on the rows it visits anyway (to lock them), and
-- keeping claimed_until out of every index lets the claim's update be HOT
-- when its page has room.
ALTER TABLE consultation.outbox ADD COLUMN claimed_until timestamptz;

-- +goose Down
ALTER TABLE consultation.outbox DROP COLUMN claimed_until;
