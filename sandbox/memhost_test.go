package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// memHost is an in-memory Host for tests: a KV store scoped by plugin id,
// storage documents, and an http.fetch that echoes its request.
type memHost struct {
	mu    sync.Mutex
	kv    map[string]json.RawMessage
	calls []string
	// block makes every call wait until its context ends.
	block bool
}

func newMemHost() *memHost { return &memHost{kv: map[string]json.RawMessage{}} }

func (h *memHost) Call(ctx context.Context, pluginID, method string, args json.RawMessage) (json.RawMessage, error) {
	h.mu.Lock()
	h.calls = append(h.calls, pluginID+" "+method)
	block := h.block
	h.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var a []json.RawMessage
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("args: %w", err)
	}
	arg := func(i int) json.RawMessage {
		if i < len(a) {
			return a[i]
		}
		return json.RawMessage("null")
	}
	key := func(i int) string {
		var s string
		_ = json.Unmarshal(arg(i), &s)
		return pluginID + "\x00" + s
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case method == "kv.get":
		if v, ok := h.kv[key(0)]; ok {
			return v, nil
		}
		return json.RawMessage("null"), nil
	case method == "kv.set":
		h.kv[key(0)] = append(json.RawMessage(nil), arg(1)...)
		return nil, nil
	case method == "kv.delete":
		delete(h.kv, key(0))
		return nil, nil
	case method == "kv.list":
		var keys []string
		prefix := key(0)
		for k := range h.kv {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, strings.TrimPrefix(k, pluginID+"\x00"))
			}
		}
		return json.Marshal(keys)
	case method == "http.fetch":
		return json.Marshal(map[string]any{"status": 200, "statusText": "OK", "headers": map[string]string{}, "body": `{"echo":` + string(arg(0)) + `}`})
	case method == "content.get":
		return json.RawMessage(`{"id":"e1","data":{"title":"Hello"}}`), nil
	case strings.HasPrefix(method, "storage."):
		return json.RawMessage(`{"method":"` + method + `"}`), nil
	case method == "fail":
		return nil, fmt.Errorf("host failure")
	}
	return json.RawMessage(`{"ok":true}`), nil
}

func (h *memHost) callLog() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}
