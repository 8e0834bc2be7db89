-- +goose Up
-- One change counter per topic ("entries", "collections", "plugins", "jobs",
-- "schedule"): a write that changes what a topic's caches or sleepers hold
-- bumps its row in the writing transaction, so every process sharing the
-- database learns of it by re-reading this small table (storage/generations.go)
-- or, on PostgreSQL, from the NOTIFY sent in the same transaction.
CREATE TABLE generations (
	topic TEXT PRIMARY KEY,
	gen INTEGER NOT NULL
);

-- +goose Down
DROP TABLE generations;
