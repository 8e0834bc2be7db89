-- +goose Up
-- The durable queue of "after" hooks. A job is inserted in the same
-- transaction as the content write that caused it, so a rolled-back write
-- leaves no job and a committed one cannot lose it. Delivered jobs are
-- deleted; dead ones (every attempt failed) stay for the admin to see until
-- the retention sweep removes them.
CREATE TABLE plugin_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id    TEXT NOT NULL,
    hook         TEXT NOT NULL,
    event        TEXT NOT NULL,
    -- pending | running | dead
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_run_at  INTEGER NOT NULL,
    -- While running: the lease. A job whose lease expired was left by a
    -- crashed or stopped process and is claimed again.
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX plugin_jobs_due ON plugin_jobs (status, next_run_at);
CREATE INDEX plugin_jobs_plugin ON plugin_jobs (plugin_id, status);

-- Invocation logs, written off the request path in batches. Bounded per
-- plugin (see plugins/logs.go for the retention rule).
CREATE TABLE plugin_logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id   TEXT NOT NULL,
    version     TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_us INTEGER NOT NULL,
    cpu_us      INTEGER NOT NULL,
    peak_memory INTEGER NOT NULL,
    subrequests INTEGER NOT NULL,
    -- ok | error | limit
    outcome     TEXT NOT NULL,
    limit_name  TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    -- The most severe ctx.log level of the invocation: 0 none, 1 debug,
    -- 2 info, 3 warn, 4 error; lets "level >= warn" filter without parsing lines.
    max_level   INTEGER NOT NULL DEFAULT 0,
    lines       TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX plugin_logs_plugin ON plugin_logs (plugin_id, id);
CREATE INDEX plugin_logs_started ON plugin_logs (started_at);

-- Cron leases: one row per (plugin, schedule). Claiming a tick advances
-- next_run in the same conditional UPDATE, so of several processes sharing
-- the database exactly one runs each tick.
CREATE TABLE plugin_cron (
    plugin_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    schedule     TEXT NOT NULL,
    next_run     INTEGER NOT NULL,
    locked_until INTEGER,
    last_run     INTEGER,
    last_error   TEXT,
    PRIMARY KEY (plugin_id, name)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE plugin_cron;
DROP TABLE plugin_logs;
DROP TABLE plugin_jobs;
