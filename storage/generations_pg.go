package storage

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListenerApplicationName is the application_name of the listening
// connection.
const ListenerApplicationName = "pilcrow generations listener"

// ListenPostgres keeps one connection to PostgreSQL LISTENing on the
// generations channel until ctx ends, applying each notified bump to g (and
// each wake-up to its topic's waiters) as the other nodes' transactions
// commit. Every time it (re)connects it re-reads the whole table after its
// LISTEN took effect, so nothing committed while it was away is missed, and
// wakes every topic's waiters (wake-ups carry no counter to catch up on). A
// lost connection (a restarted server, pg_terminate_backend) is logged and
// opened again, with a backoff of up to 2 s.
func (g *Generations) ListenPostgres(ctx context.Context, cfg *pgx.ConnConfig, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	const maxBackoff = 2 * time.Second
	backoff := 50 * time.Millisecond
	down := false
	for ctx.Err() == nil {
		err := g.listenOnce(ctx, cfg, func() {
			backoff = 50 * time.Millisecond
			if down {
				down = false
				log.Info("storage: listening for generations again")
			}
		})
		if ctx.Err() != nil {
			return
		}
		if !down {
			down = true
			log.Warn("storage: the generations listener lost its connection; reconnecting (the periodic re-check covers meanwhile)", "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listenOnce runs one listening connection until it fails or ctx ends;
// connected is called once it is caught up.
func (g *Generations) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, connected func()) error {
	cfg = cfg.Copy()
	// Named, so an operator (or a test) can find it in pg_stat_activity.
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+pgNotifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// After LISTEN: a bump committed from here on is notified, one before
	// is in the table.
	rows, err := conn.Query(ctx, recheckSQL)
	if err != nil {
		return fmt.Errorf("read generations: %w", err)
	}
	for rows.Next() {
		var topic string
		var gen int64
		if err := rows.Scan(&topic, &gen); err != nil {
			rows.Close()
			return fmt.Errorf("read generations: %w", err)
		}
		g.Observe(topic, uint64(gen))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read generations: %w", err)
	}
	g.wakeAll()
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		g.applyNotification(n.Payload)
	}
}

// applyNotification applies one payload of the channel: "topic gen" (a
// bump) or "topic" (a wake-up). Anything else is ignored: the channel is
// Pilcrow's, but any session of the database may NOTIFY on it.
func (g *Generations) applyNotification(payload string) {
	topic, genText, isBump := strings.Cut(payload, " ")
	if topic == "" {
		return
	}
	if !isBump {
		g.Topic(topic).wake()
		return
	}
	gen, err := strconv.ParseUint(genText, 10, 64)
	if err != nil {
		return
	}
	g.Observe(topic, gen)
}
