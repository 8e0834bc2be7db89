package web

import (
	"context"
	"net/http"
	"time"
)

// mediaChecker is what readiness needs of the media store: one cheap call
// that reaches it (a stat of the local folder, a HEAD of the S3 bucket).
type mediaChecker interface {
	Check(ctx context.Context) error
}

// probeTimeout bounds each readiness check, so a hung database or bucket
// makes /readyz answer 503 rather than hang the load balancer's probe.
const probeTimeout = 2 * time.Second

// Drain marks the server as shutting down: /readyz answers 503 from now on,
// so load balancers stop sending new requests while the ones in flight
// finish. Call it before http.Server.Shutdown. It cannot be undone.
func (s *Server) Drain() { s.draining.Store(true) }

// handleLive answers while the process serves HTTP; it checks nothing else,
// so a database outage makes a node unready, never restarted.
func (s *Server) handleLive(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, healthStatus{Status: "ok"})
}

// handleReady answers 200 when this node can serve: not draining, the
// database answers, its schema is the one this binary expects, and the
// media store answers. Otherwise 503 naming the first failing check (the
// error itself goes to the log: probes are public).
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		problem(w, r, http.StatusServiceUnavailable, "not ready: draining: the server is shutting down")
		return
	}
	checks := []struct {
		name, detail string
		check        func(context.Context) error
	}{
		{"database", "the database does not answer", s.svc.DB.Ping},
		{"schema", "the database schema is not at this binary's version", s.svc.DB.CheckSchema},
		{"media", "the media store does not answer", s.checkMedia},
	}
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
		err := c.check(ctx)
		cancel()
		if err != nil {
			s.log.WarnContext(r.Context(), "readiness check failed", "check", c.name, "err", err)
			problem(w, r, http.StatusServiceUnavailable, "not ready: "+c.name+": "+c.detail)
			return
		}
	}
	writeJSON(w, http.StatusOK, healthStatus{Status: "ready"})
}

// checkMedia checks the media library's store; a site without one, or a
// store with no check of its own, has nothing to wait for.
func (s *Server) checkMedia(ctx context.Context) error {
	if s.svc.Media == nil {
		return nil
	}
	if c, ok := s.svc.Media.Store().(mediaChecker); ok {
		return c.Check(ctx)
	}
	return nil
}
