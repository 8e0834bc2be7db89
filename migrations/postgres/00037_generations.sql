-- +goose Up
-- One change counter per topic (see migrations/00037_generations.sql and
-- storage/generations.go). On PostgreSQL the bumping transaction also sends
-- a NOTIFY on the pilcrow_generations channel, delivered at its commit.
CREATE TABLE generations (
    topic TEXT PRIMARY KEY,
    gen   BIGINT NOT NULL
);

-- +goose Down
DROP TABLE generations;
