package web_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestIdempotencyKey(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	editor := ts.as(cms.RoleEditor)
	other := ts.as(cms.RoleEditor)
	const entries = "/api/collections/posts/entries"
	body := map[string]any{"data": map[string]any{"title": "Once"}}

	first := editor.do("POST", entries, body, "Idempotency-Key: k-1").want(http.StatusCreated)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Error("the first response is marked as a replay")
	}
	again := editor.do("POST", entries, body, "Idempotency-Key: k-1").want(http.StatusCreated)
	if !bytes.Equal(again.Body, first.Body) || again.Header.Get("Location") != first.Header.Get("Location") ||
		again.Header.Get("ETag") != first.Header.Get("ETag") || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay differs:\n first %s %v\n again %s %v", first.Body, first.Header, again.Body, again.Header)
	}
	if n := entryCount(t, ts); n != 1 {
		t.Fatalf("%d entries after a repeated keyed create, want 1", n)
	}

	// Same key, different request: 422 naming the header.
	p := editor.do("POST", entries, map[string]any{"data": map[string]any{"title": "Twice"}}, "Idempotency-Key: k-1").problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/headers/Idempotency-Key") || !strings.Contains(p.Detail, "different request") {
		t.Errorf("reused key: %+v", p)
	}
	editor.do("POST", "/api/collections", map[string]any{"name": "x", "label": "X"}, "Idempotency-Key: k-1").problem(http.StatusForbidden)
	admin.do("POST", entries, body, "Idempotency-Key: k-admin").want(http.StatusCreated)
	admin.do("POST", "/api/collections", map[string]any{"name": "x", "label": "X"}, "Idempotency-Key: k-admin").problem(http.StatusUnprocessableEntity)

	// Keys are per user: another user's k-1 is a new request.
	other.do("POST", entries, body, "Idempotency-Key: k-1").want(http.StatusCreated)
	if n := entryCount(t, ts); n != 3 {
		t.Fatalf("%d entries, want 3", n)
	}

	// A client error is a result too: the same bad request gets the same answer.
	bad := map[string]any{"data": map[string]any{"rating": 99}}
	b1 := editor.do("POST", entries, bad, "Idempotency-Key: k-bad").problem(http.StatusUnprocessableEntity)
	b2 := editor.do("POST", entries, bad, "Idempotency-Key: k-bad")
	if b2.Status != http.StatusUnprocessableEntity || b2.Header.Get("Idempotent-Replayed") != "true" || b1.Detail == "" {
		t.Errorf("replayed validation error: %d %s", b2.Status, b2.Body)
	}

	// Media: a retry builds a new multipart boundary; it is still the same request.
	png := testPNG(t, 3, 3)
	editor.upload(filePart("a.png", "image/png", png), textPart("alt", "one")).want(http.StatusCreated)
	u1 := editorUpload(t, editor, "k-media", png, "alt one")
	u2 := editorUpload(t, editor, "k-media", png, "alt one")
	if !bytes.Equal(u1.Body, u2.Body) || u2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("media replay: %s vs %s", u1.Body, u2.Body)
	}
	editorUpload(t, editor, "k-media", png, "alt two").problem(http.StatusUnprocessableEntity)
	var media int
	if err := ts.Site.DB.Read().QueryRow(`SELECT count(*) FROM media`).Scan(&media); err != nil || media != 2 {
		t.Errorf("%d media rows (%v), want 2", media, err)
	}

	// Durable: a restart keeps the keys.
	ts.restart()
	replay := editor.do("POST", entries, body, "Idempotency-Key: k-1").want(http.StatusCreated)
	if !bytes.Equal(replay.Body, first.Body) {
		t.Errorf("after restart the replay differs: %s", replay.Body)
	}

	// Hostile keys.
	for _, k := range []string{strings.Repeat("k", 256), "bad\u00e9key"} {
		editor.do("POST", entries, body, header("Idempotency-Key: "+k)).problem(http.StatusBadRequest)
	}
	if n := entryCount(t, ts); n != 3 {
		t.Fatalf("%d entries at the end, want 3", n)
	}
}

func editorUpload(t *testing.T, c *client, key string, png []byte, alt string) *response {
	t.Helper()
	body, ctype := multipartBody(t, filePart("k.png", "image/png", png), textPart("alt", alt))
	return c.do("POST", "/api/media", body.Bytes(), header("Content-Type: "+ctype), header("Idempotency-Key: "+key))
}
