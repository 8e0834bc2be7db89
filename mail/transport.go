// Package mail sends the site's email: an SMTP transport configured by one
// URL (--smtp), built on github.com/wneessen/go-mail, and an Outbox that
// queues messages durably in package jobs and delivers them with retries.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// ErrBadConfig reports an --smtp URL or --mail-from address that cannot work.
var ErrBadConfig = errors.New("mail configuration")

// Config configures the transport.
type Config struct {
	// URL is smtp://[user:pass@]host[:port] (STARTTLS, required unless
	// ?insecure=true, which allows plaintext to a loopback host only) or
	// smtps://[user:pass@]host[:port] (implicit TLS).
	URL string
	// From is the envelope and header sender of every message.
	From string
	// TLSConfig, when set, is used for STARTTLS and implicit TLS (tests
	// trust their own certificate with it). ServerName is filled in.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each SMTP command (default 30 s).
	Timeout time.Duration
}

// settings is a parsed --smtp URL.
type settings struct {
	host       string
	port       int
	implicit   bool // smtps://
	plaintext  bool // ?insecure=true on loopback: STARTTLS only when offered
	user, pass string
}

// parseURL checks an --smtp URL; its errors never repeat the password.
func parseURL(raw string) (settings, error) {
	var s settings
	u, err := url.Parse(raw)
	if err != nil {
		return s, fmt.Errorf("%w: --smtp is not a URL such as smtp://user:pass@mail.example.com:587", ErrBadConfig)
	}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.implicit, s.port = true, 465
	default:
		return s, fmt.Errorf("%w: --smtp must start with smtp:// (STARTTLS) or smtps:// (implicit TLS), not %q", ErrBadConfig, u.Scheme+"://")
	}
	s.host = u.Hostname()
	if s.host == "" {
		return s, fmt.Errorf("%w: --smtp names no host", ErrBadConfig)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return s, fmt.Errorf("%w: --smtp port %q is not a port number", ErrBadConfig, p)
		}
		s.port = n
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" {
		return s, fmt.Errorf("%w: --smtp takes no path or fragment", ErrBadConfig)
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		if s.user == "" {
			return s, fmt.Errorf("%w: --smtp has credentials with an empty user name", ErrBadConfig)
		}
	}
	for k, v := range u.Query() {
		if k != "insecure" {
			return s, fmt.Errorf("%w: --smtp option %q is unknown (the only one is insecure=true)", ErrBadConfig, k)
		}
		switch v[len(v)-1] {
		case "true":
			s.plaintext = true
		case "false":
		default:
			return s, fmt.Errorf("%w: --smtp insecure must be true or false", ErrBadConfig)
		}
	}
	if s.plaintext {
		if s.implicit {
			return s, fmt.Errorf("%w: insecure=true makes no sense with smtps:// (always TLS)", ErrBadConfig)
		}
		if !isLoopback(s.host) {
			return s, fmt.Errorf("%w: insecure=true (plaintext SMTP) is allowed only to a loopback host such as 127.0.0.1 or localhost, not %s; use STARTTLS or smtps://", ErrBadConfig, s.host)
		}
	}
	return s, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Transport sends messages over SMTP. It is safe for concurrent use; each
// Send opens its own connection.
type Transport struct {
	s    settings
	from string
	cfg  Config
}

// NewTransport checks cfg and returns its transport.
func NewTransport(cfg Config) (*Transport, error) {
	s, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	from, err := checkAddress(cfg.From)
	if err != nil || from == "" {
		return nil, fmt.Errorf("%w: --mail-from %q must be an address such as \"Site <noreply@example.com>\" (required with --smtp)", ErrBadConfig, cfg.From)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Transport{s: s, from: from, cfg: cfg}, nil
}

// From is the sender address of the transport's messages.
func (t *Transport) From() string { return t.from }

// String describes the transport for logs, without credentials.
func (t *Transport) String() string {
	mode := "STARTTLS"
	switch {
	case t.s.implicit:
		mode = "implicit TLS"
	case t.s.plaintext:
		mode = "STARTTLS when offered, else plaintext (loopback)"
	}
	return fmt.Sprintf("smtp %s:%d (%s)", t.s.host, t.s.port, mode)
}

func (t *Transport) client() (*gomail.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.cfg.TLSConfig != nil {
		tc = t.cfg.TLSConfig.Clone()
	}
	tc.ServerName = t.s.host
	opts := []gomail.Option{
		gomail.WithPort(t.s.port),
		gomail.WithTimeout(t.cfg.Timeout),
		gomail.WithTLSConfig(tc),
	}
	switch {
	case t.s.implicit:
		opts = append(opts, gomail.WithSSL())
	case t.s.plaintext:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		// Without STARTTLS the server does not get our mail (or password):
		// a stripped STARTTLS offer is a downgrade attack.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if t.s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(t.s.user), gomail.WithPassword(t.s.pass))
	}
	return gomail.NewClient(t.s.host, opts...)
}

// Send delivers m now. id, when set, becomes the Message-ID's local part,
// so every attempt of one queued message carries the same Message-ID. An
// error the server gave with a 5xx reply is Permanent (see IsPermanent).
func (t *Transport) Send(ctx context.Context, id string, m Message) error {
	if err := m.Validate(); err != nil {
		return &permanentError{err}
	}
	msg := gomail.NewMsg()
	if err := msg.From(t.from); err != nil {
		return &permanentError{fmt.Errorf("sender %q: %w", t.from, err)}
	}
	if err := msg.To(m.To...); err != nil {
		return &permanentError{fmt.Errorf("recipients: %w", err)}
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return &permanentError{fmt.Errorf("replyTo: %w", err)}
		}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if id != "" {
		domain := t.from[strings.LastIndexByte(t.from, '@')+1:]
		msg.SetMessageIDWithValue(id + "@" + strings.TrimSuffix(domain, ">"))
	}
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	c, err := t.client()
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		err = fmt.Errorf("mail to %s via %s:%d: %w", strings.Join(m.To, ", "), t.s.host, t.s.port, err)
		if code := replyCode(err); code >= 500 && code < 600 {
			return &permanentError{err}
		}
		return err
	}
	return nil
}

// replyCode is the SMTP reply code behind err, or 0.
func replyCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		return se.ErrorCode()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// permanentError is a failure no retry fixes: the server refused with a
// 5xx reply, or the message itself is unusable.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// IsPermanent reports whether Send's error is one no retry can fix.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
