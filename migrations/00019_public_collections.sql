-- +goose Up
-- Collections gain the "public" option (served at /api/public/… only when
-- set). New collections start private; every collection that exists now was
-- already served publicly, so it stays public.
UPDATE collections SET options = json_set(options, '$.public', json('true'));

-- +goose Down
UPDATE collections SET options = json_remove(options, '$.public');
