#!/usr/bin/env bash
# Load run of the public delivery API over loopback: 100k published entries,
# then wrk against get-by-slug (random slugs) and a filtered public list.
# Needs wrk and sqlite3 (apt-get install wrk sqlite3). Usage: scripts/load/public.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$work"' EXIT
addr=127.0.0.1:18080
go build -o "$work/pilcrow" "$root/cmd/pilcrow"

start() {
  PILCROW_ADMIN_EMAIL=admin@example.com PILCROW_ADMIN_PASSWORD='load-test-password' \
    "$work/pilcrow" serve --addr $addr --data "$work/data" --log-level warn >"$work/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 50); do curl -sf "http://$addr/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; cat "$work/serve.log"; exit 1
}

start
curl -sf -c "$work/jar" -H 'Content-Type: application/json' \
  -d '{"email":"admin@example.com","password":"load-test-password"}' "http://$addr/api/auth/login" >"$work/login.json"
csrf=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["csrfToken"])' "$work/login.json")
curl -sf -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -d '{"name":"articles","label":"Articles","fields":[{"name":"title","type":"string","required":true},{"name":"slug","type":"slug","from":"title"},{"name":"body","type":"markdown"},{"name":"category","type":"select","options":["c0","c1","c2","c3","c4","c5","c6","c7","c8","c9"]},{"name":"rating","type":"integer"}]}' \
  "http://$addr/api/collections" >/dev/null
kill $PID; wait $PID || true

# Seeding 100k entries through the API would take minutes; insert rows of the
# same shape the content service writes, in one transaction. No search rows:
# this load reads by slug and filter only, and the search tables are
# contentless_delete FTS5 tables (SQLite 3.43+), which an older sqlite3 shell
# cannot write (scripts/bench/compare-pocketbase seeds them).
sqlite3 -bail "$work/data/pilcrow.db" <<'SQL'
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < 99999)
INSERT INTO entries (id, collection, slug, status, version, data, published_data, published_slug, published_version, created_at, updated_at, published_at)
SELECT lower(hex(randomblob(4))||'-'||hex(randomblob(2))||'-7'||substr(hex(randomblob(2)),2)||'-a'||substr(hex(randomblob(2)),2)||'-'||hex(randomblob(6))),
  'articles', 'entry-'||i, 'published', 2, d, d, 'entry-'||i, 2, 1735689600000+i*60000, 1735689600000+i*60000, 1735689600000+i*60000
FROM (SELECT i, json_object('title','Entry '||i,'slug','entry-'||i,'body','Body of entry '||i||' with some words.','category','c'||(i%10),'rating',(i*7919)%100) AS d FROM n);
ANALYZE;
COMMIT;
SQL

start
echo "== public get-by-slug, random of 100k slugs, cold cache"
wrk -t2 -c32 -d15s --latency -s "$here/slug.lua" "http://$addr"
echo "== public get-by-slug, warm"
wrk -t2 -c32 -d15s --latency -s "$here/slug.lua" "http://$addr"
echo "== public list, filter[category]=c3, limit 20"
wrk -t2 -c32 -d10s --latency "http://$addr/api/public/articles?filter%5Bcategory%5D=c3&limit=20"
