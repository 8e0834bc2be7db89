package cms

import "sync"

// publicCache keeps recently served published entries in memory, so the
// public get-by-slug path, the hottest of a site, usually skips SQLite. Every
// write that can change what the public sees empties it; a generation number
// stops a read that raced with such a write from storing what it read.
type publicCache struct {
	mu       sync.RWMutex
	gen      uint64
	items    map[string]*PublicEntry
	bytes    int
	maxBytes int
}

// publicCacheBytes bounds the cache; when full it starts over empty.
const publicCacheBytes = 64 << 20

func newPublicCache(maxBytes int) *publicCache {
	return &publicCache{items: map[string]*PublicEntry{}, maxBytes: maxBytes}
}

func cacheKey(collection, slug string) string { return collection + "\x00" + slug }

// get returns the cached entry, or the generation to store a fresh read under.
func (pc *publicCache) get(key string) (*PublicEntry, uint64) {
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	return pc.items[key], pc.gen
}

func (pc *publicCache) put(key string, e *PublicEntry, gen uint64, size int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if gen != pc.gen || size > pc.maxBytes {
		return
	}
	if pc.bytes+size > pc.maxBytes {
		pc.items, pc.bytes = map[string]*PublicEntry{}, 0
	}
	pc.items[key] = e
	pc.bytes += size
}

// invalidate drops everything; called after each write that can change public data.
func (pc *publicCache) invalidate() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.gen++
	pc.items, pc.bytes = map[string]*PublicEntry{}, 0
}
