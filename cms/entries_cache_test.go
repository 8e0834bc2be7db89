package cms

import "testing"

func TestPublicCache(t *testing.T) {
	pc := newPublicCache(1000)
	e := &PublicEntry{Slug: "a"}
	_, gen := pc.get("k")
	pc.put("k", e, gen, 100)
	if got, _ := pc.get("k"); got != e {
		t.Fatal("entry not cached")
	}
	// A read that began before an invalidation must not be stored.
	_, stale := pc.get("k2")
	pc.invalidate()
	if got, _ := pc.get("k"); got != nil {
		t.Fatal("invalidate kept an entry")
	}
	pc.put("k2", e, stale, 100)
	if got, _ := pc.get("k2"); got != nil {
		t.Fatal("a stale read was cached")
	}
	// Full: start over rather than grow.
	_, gen = pc.get("x")
	for i := range 20 {
		pc.put(string(rune('a'+i)), e, gen, 100)
	}
	if pc.bytes > 1000 || len(pc.items) > 10 {
		t.Fatalf("cache grew to %d bytes, %d items", pc.bytes, len(pc.items))
	}
	pc.put("huge", e, gen, 5000)
	if got, _ := pc.get("huge"); got != nil {
		t.Fatal("an entry larger than the cache was stored")
	}
}
