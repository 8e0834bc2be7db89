-- +goose Up
-- Plugin after-hook deliveries move from their own queue (plugin_jobs) to the
-- site's job queue (jobs, kind 'plugin.afterHook'; plugins/queue.go). Every
-- row is carried over, dead ones included:
--   payload      {plugin, hook, event, cause?}, the shape plugins.Queue writes;
--   id           a UUIDv7 whose time is the job's creation, so ids keep
--                creation order (and become the event's deliveryId);
--   an event that is not JSON (no version wrote one) is still carried, as
--                a string: its delivery fails visibly and the job is dead;
--   max_attempts 5, the old queue's default (1 + four retry delays);
--   a job that was running (its process stopped before it finished) is due
--   again at once with its attempt counted, as an expired lease would be: if
--   that was its last attempt, the next claim marks it dead.
-- The numbers 00028/00029 (plugin_jobs.cause) landed first, so this runs
-- after them on every database.
INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, last_error, created_at, updated_at)
SELECT
    lower(substr(printf('%012x', created_at), 1, 8) || '-' || substr(printf('%012x', created_at), 9, 4) || '-7' ||
        substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' ||
        hex(randomblob(6))),
    'plugin.afterHook',
    CASE
        WHEN NOT json_valid(event) THEN json_object('plugin', plugin_id, 'hook', hook, 'event', event)
        WHEN cause = '' OR NOT json_valid(cause) THEN json_object('plugin', plugin_id, 'hook', hook, 'event', json(event))
        ELSE json_object('plugin', plugin_id, 'hook', hook, 'event', json(event), 'cause', json(cause)) END,
    CASE status WHEN 'dead' THEN 'dead' ELSE 'pending' END,
    attempts,
    5,
    CASE status WHEN 'running' THEN updated_at ELSE next_run_at END,
    last_error,
    created_at,
    updated_at
FROM plugin_jobs
ORDER BY id;
DROP TABLE plugin_jobs;

-- +goose Down
CREATE TABLE plugin_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id    TEXT NOT NULL,
    hook         TEXT NOT NULL,
    event        TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_run_at  INTEGER NOT NULL,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    cause        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX plugin_jobs_due ON plugin_jobs (status, next_run_at);
CREATE INDEX plugin_jobs_plugin ON plugin_jobs (plugin_id, status);
INSERT INTO plugin_jobs (plugin_id, hook, event, status, attempts, next_run_at, last_error, created_at, updated_at, cause)
SELECT json_extract(payload, '$.plugin'), json_extract(payload, '$.hook'), json_extract(payload, '$.event'),
    CASE status WHEN 'dead' THEN 'dead' ELSE 'pending' END, attempts, run_at, last_error, created_at, updated_at,
    COALESCE(json_extract(payload, '$.cause'), '')
FROM jobs WHERE kind = 'plugin.afterHook' ORDER BY created_at, id;
DELETE FROM jobs WHERE kind = 'plugin.afterHook';
