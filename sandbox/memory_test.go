package sandbox

import (
	"context"
	"testing"
	"time"
)

// TestMemoryChurnIsNotCharged: garbage is not memory. Plugins that allocate
// far more than their limit in short-lived values, or hold just under it,
// succeed.
func TestMemoryChurnIsNotCharged(t *testing.T) {
	t.Parallel()
	p := testPool(t)
	for _, body := range []string{
		`let n = 0; for (let i = 0; i < 100; i++) n += new Uint8Array(1 << 20).length; return n`,
		`let n = 0; for (let i = 0; i < 200000; i++) n += ("x" + i).repeat(20).length; return n`,
		`let n = 0; for (let i = 0; i < 3; i++) n += new Uint8Array(30 << 20).fill(1).length; return n`,
		`const a = new Uint8Array(40 << 20).fill(7); return a[a.length - 1]`,
	} {
		inv := hookInvocation(body)
		inv.Limits.CPU, inv.Limits.Wall = 5*time.Second*slow, 20*time.Second*slow
		res, err := p.Invoke(context.Background(), inv, nil)
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if res.Usage.AllocBytes < 40<<20 {
			t.Errorf("%s: allocated %d bytes: the test does not churn", body, res.Usage.AllocBytes)
		}
	}
}
