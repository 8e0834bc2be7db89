-- +goose Up
-- Sign-in attempt budgets shared by every node: see the SQLite migration of
-- the same number for what each column holds.
CREATE TABLE login_budgets (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL,
    ok  INTEGER NOT NULL
);

-- +goose Down
DROP TABLE login_budgets;
