package cms

import (
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage"
)

func TestPublicCache(t *testing.T) {
	gens := storage.NewGenerations()
	pc := newPublicCache(gens.Topic(storage.TopicEntries), 1000)
	e := &PublicEntry{Slug: "a"}
	_, gen := pc.get("k")
	pc.put("k", e, gen, 100)
	if got, _ := pc.get("k"); got != e {
		t.Fatal("entry not cached")
	}
	// A read that began before the topic moved must not be stored.
	_, stale := pc.get("k2")
	gens.Observe(storage.TopicEntries, gen+1)
	if got, _ := pc.get("k"); got != nil {
		t.Fatal("the cache kept an entry of an old generation")
	}
	_, cur := pc.get("k3")
	pc.put("k3", e, cur, 100)
	pc.put("k2", e, stale, 100)
	if got, _ := pc.get("k2"); got != nil {
		t.Fatal("a stale read was cached")
	}
	if got, _ := pc.get("k3"); got != e {
		t.Fatal("a stale read emptied the cache of the current generation")
	}
	// A stale put before any current one is refused too.
	gens.Observe(storage.TopicEntries, cur+1)
	_, cur = pc.get("k4")
	pc.put("k4", e, cur, 100)
	pc.put("k5", e, cur-1, 100)
	if got, _ := pc.get("k5"); got != nil {
		t.Fatal("a read of the previous generation was cached")
	}
	// drop empties at the same generation.
	pc.drop()
	if got, _ := pc.get("k4"); got != nil {
		t.Fatal("drop kept an entry")
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
