package webhooks

import (
	"context"
	"database/sql"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// fixedResolver answers every name with addrs.
type fixedResolver []netip.Addr

func (r fixedResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return r, nil
}

// plainSealer is enough here: sealing is tested with the plugin secrets.
type plainSealer struct{}

func (plainSealer) Seal(_, p string) string                  { return "sealed:" + p }
func (plainSealer) Open(_, s string) (string, error)         { return strings.TrimPrefix(s, "sealed:"), nil }
func (plainSealer) Reseal(_, s string) (string, bool, error) { return s, false, nil }

// A name that resolved to a public address when the webhook was created but
// resolves to a private one when it is delivered (DNS rebinding) is refused
// by the egress guard at delivery: no connection, the delivery dead at once
// with the reason in its log.
func TestDeliveryRefusesRebindToPrivateAddress(t *testing.T) {
	ctx := context.Background()
	db, err := storage.OpenSpec(ctx, storagetest.Spec(t, ""), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.DiscardHandler)
	q := jobs.New(db, jobs.Config{Log: log})
	s := New(Options{DB: db, Queue: q, Sealer: plainSealer{}, Log: log,
		Resolver: fixedResolver{netip.MustParseAddr("93.184.216.34")},
		Egress:   egress.New(egress.Options{Resolver: fixedResolver{netip.MustParseAddr("192.168.1.10")}, Logger: log})})

	for _, tc := range []struct {
		name string
		res  fixedResolver
		ok   bool
	}{
		{"public at create", fixedResolver{netip.MustParseAddr("93.184.216.34")}, true},
		{"private at create", fixedResolver{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.5")}, false},
	} {
		s.opt.Resolver = tc.res
		_, err := s.Create(ctx, Input{URL: "https://hooks.example.test/in", Events: []string{AllEvents}}, "")
		if (err == nil) != tc.ok {
			t.Fatalf("%s: create error %v", tc.name, err)
		}
		if !tc.ok && !strings.Contains(err.Error(), "10.0.0.5") {
			t.Fatalf("%s: error %q does not name the address", tc.name, err)
		}
	}

	if err := db.Tx(ctx, func(tx *sql.Tx) error {
		return s.Emit(ctx, tx, MediaCreated, "", map[string]any{"media": map[string]any{"id": "m1"}})
	}); err != nil {
		t.Fatal(err)
	}
	if did, err := q.RunOnce(ctx); !did || err != nil {
		t.Fatalf("RunOnce = %v, %v", did, err)
	}
	hooks, _ := s.List(ctx)
	ds, err := s.Deliveries(ctx, hooks[0].ID, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %+v %v", ds, err)
	}
	d := ds[0]
	if d.Status != StatusDead || d.Attempts != 1 || d.ResponseCode != nil || !strings.Contains(d.Error, "192.168.1.10") {
		t.Fatalf("delivery %+v", d)
	}
}

// Sign follows the Standard Webhooks example vector.
func TestSignKnownVector(t *testing.T) {
	// The example in the specification's repository: secret, id, timestamp
	// and payload, and the signature it gives.
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}
