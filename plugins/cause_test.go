package plugins

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
)

func TestCausedSubscribers(t *testing.T) {
	subs := []subscriber{{ap: &ActivePlugin{ID: "a"}}, {ap: &ActivePlugin{ID: "b"}}, {ap: &ActivePlugin{ID: "c"}}}
	d := &Dispatcher{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	tests := []struct {
		name  string
		chain []string
		want  []string
	}{
		{name: "a person's write runs every hook", want: []string{"a", "b", "c"}},
		{name: "a plugin's write skips its own hooks", chain: []string{"b"}, want: []string{"a", "c"}},
		{name: "only the last writer is skipped", chain: []string{"a", "b"}, want: []string{"a", "c"}},
		{name: "depth three runs none", chain: []string{"a", "b", "c"}},
		{name: "deeper still runs none", chain: []string{"a", "b", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			for _, id := range tt.chain {
				ctx = causedBy(ctx, id)
			}
			var got []string
			for _, s := range d.caused(ctx, "content:afterSave", subs) {
				got = append(got, s.ap.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if len(subs) != 3 {
				t.Fatal("caused changed its input")
			}
		})
	}
	// A chain survives a queued job.
	chain := decodeCause(encodeCause([]string{"a", "b"}))
	if !slices.Equal(causeChain(causedBy(withCauseChain(context.Background(), chain), "c")), []string{"a", "b", "c"}) {
		t.Fatal("chain not restored")
	}
	// Sibling invocations do not share a chain's backing array.
	base := causedBy(context.Background(), "a")
	x, y := causedBy(base, "x"), causedBy(base, "y")
	if causeChain(x)[1] != "x" || causeChain(y)[1] != "y" {
		t.Fatal("chains alias")
	}
}
