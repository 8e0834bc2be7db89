-- +goose Up
-- Sign-in attempt budgets, in the database so that every node of a cluster
-- spends from the same ones (SPEC §15). One row per budget: an (account,
-- client) pair or a client, named by the SHA-256 of that name, so the table
-- holds neither addresses nor emails. tat is the budget's GCRA "theoretical
-- arrival time" (unix ms): a budget of `burst` attempts refilled one per
-- `every` is spent when tat - now stays within every * (burst - 1); a row
-- whose tat has passed is a full budget, and is deleted. ok is whether the
-- last spend was allowed, read back by the spending upsert's RETURNING.
CREATE TABLE login_budgets (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL,
    ok  INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE login_budgets;
