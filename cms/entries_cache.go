package cms

import (
	"sync"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// publicCache keeps recently served published entries in memory, so the
// public get-by-slug path, the hottest of a site, usually skips the
// database. What it holds belongs to one generation of the entries topic
// (storage.TopicEntries), which every write that can change what the public
// sees bumps in its transaction, in this process or another sharing the
// database; once the topic moves on, the cache starts over. A read stamps
// what it stores with the generation it saw before querying, so a read
// that raced with a write cannot store what it read under the newer
// generation.
type publicCache struct {
	topic *storage.Topic

	mu       sync.RWMutex
	gen      uint64 // the generation items belong to
	items    map[string]*PublicEntry
	bytes    int
	maxBytes int
}

// publicCacheBytes bounds the cache; when full it starts over empty.
const publicCacheBytes = 64 << 20

func newPublicCache(topic *storage.Topic, maxBytes int) *publicCache {
	return &publicCache{topic: topic, gen: topic.Current(), items: map[string]*PublicEntry{}, maxBytes: maxBytes}
}

func cacheKey(collection, slug string) string { return collection + "\x00" + slug }

// get returns the cached entry, or the generation to store a fresh read
// under. The check that the cache is current is one atomic load.
func (pc *publicCache) get(key string) (*PublicEntry, uint64) {
	gen := pc.topic.Current()
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	if pc.gen != gen {
		return nil, gen
	}
	return pc.items[key], gen
}

func (pc *publicCache) put(key string, e *PublicEntry, gen uint64, size int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch {
	case gen < pc.gen || size > pc.maxBytes:
		return // read before a write the cache already follows
	case gen > pc.gen:
		pc.gen, pc.items, pc.bytes = gen, map[string]*PublicEntry{}, 0
	}
	if pc.bytes+size > pc.maxBytes {
		pc.items, pc.bytes = map[string]*PublicEntry{}, 0
	}
	pc.items[key] = e
	pc.bytes += size
}

// drop empties the cache at its generation: for a write found to have
// changed a collection before this process's view of the topics caught up.
func (pc *publicCache) drop() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.items, pc.bytes = map[string]*PublicEntry{}, 0
}
