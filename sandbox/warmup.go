package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// warmScript exercises the builtins plugins use most (JSON, RegExp, string
// and array methods, Promises, host calls) once.
const warmScript = `var __pilcrow = {default: {hooks: {"warm": async function (event, ctx) {
  var s = JSON.stringify({a: [1, 2, 3], b: "x".repeat(64), c: {d: true}});
  var o = JSON.parse(s);
  var words = "Hello wide World, hello again".replace(/o/g, "0").split(/\s+/).map(function (w) { return w.toUpperCase(); });
  words.sort();
  await ctx.kv.get("warm").catch(function () { return null; });
  await Promise.all([Promise.resolve(1), Promise.resolve(2)]);
  return {n: words.length, ok: o.c.d};
}}}};`

type refusingHost struct{}

func (refusingHost) Call(context.Context, string, string, json.RawMessage) (json.RawMessage, error) {
	return nil, errors.New("warm-up")
}

// warmUp runs one throwaway invocation before a worker says hello, so the
// one-time costs of a fresh process (goja's lazily built builtins, the first
// heap growth, page faults) are not charged to the first plugin it serves:
// measured, a cold first invocation can use tens of milliseconds of CPU, a
// large part of the 50 ms default.
func warmUp() {
	limits := DefaultLimits
	limits.CPU, limits.Wall = 10*time.Second, 10*time.Second
	inv := &Invocation{PluginID: "warmup", Version: "0.0.0", Script: []byte(warmScript), Kind: KindHook, Name: "warm", Limits: limits}
	_, _ = RunInProcess(context.Background(), inv, refusingHost{})
}
