// Package mailtest runs a real SMTP server on loopback for tests (built on
// github.com/emersion/go-smtp, speaking SMTP on a socket): STARTTLS or
// implicit TLS with a self-signed certificate, optional AUTH PLAIN, and
// scripted refusals. Only tests import it.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options shape the server.
type Options struct {
	// StartTLS offers STARTTLS with the server's self-signed certificate.
	StartTLS bool
	// Implicit serves TLS from the first byte (smtps://).
	Implicit bool
	// User and Password, when set, require AUTH PLAIN before MAIL.
	User, Password string
	// Refuse, when set, is asked at DATA for each message (n counts from 1);
	// a non-nil error is the server's reply instead of accepting it.
	Refuse func(n int) *smtp.SMTPError
}

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
	TLS  bool // the session was encrypted
	Auth string
}

// Server is a running test server.
type Server struct {
	Host string
	Port int
	// Pool trusts the server's certificate.
	Pool *x509.CertPool

	opts     Options
	srv      *smtp.Server
	mu       sync.Mutex
	msgs     []Message
	attempts int
	arrived  chan struct{}
}

// Start starts a server on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{Host: "127.0.0.1", opts: opts, arrived: make(chan struct{}, 1000)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, tlsOn := c.TLSConnectionState()
		return &session{s: s, tls: tlsOn}, nil
	}))
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 4 << 20
	srv.MaxRecipients = 100
	var l net.Listener
	var err error
	if opts.StartTLS || opts.Implicit {
		cert, pool, cerr := selfSigned()
		if cerr != nil {
			t.Fatal(cerr)
		}
		s.Pool = pool
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if opts.Implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.srv = srv
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// URL is the --smtp URL reaching the server (insecure=true when it offers
// no TLS).
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: fmt.Sprintf("%s:%d", s.Host, s.Port)}
	if s.opts.Implicit {
		u.Scheme = "smtps"
	}
	if s.opts.User != "" {
		u.User = url.UserPassword(s.opts.User, s.opts.Password)
	}
	if !s.opts.StartTLS && !s.opts.Implicit {
		u.RawQuery = "insecure=true"
	}
	return u.String()
}

// Messages returns the accepted messages so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Attempts counts DATA commands, accepted or refused.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Wait blocks until n messages were accepted (or the timeout passes, which
// fails the test) and returns them.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("the SMTP server received %d messages, want %d", len(s.Messages()), n)
		}
	}
}

type session struct {
	s    *Server
	tls  bool
	auth string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.auth = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && ss.auth == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.attempts++
	n := ss.s.attempts
	ss.s.mu.Unlock()
	if ss.s.opts.Refuse != nil {
		if e := ss.s.opts.Refuse(n); e != nil {
			return e
		}
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, Message{From: ss.from, To: ss.to, Data: b, TLS: ss.tls, Auth: ss.auth})
	ss.s.mu.Unlock()
	ss.s.arrived <- struct{}{}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// Parsed is a received message's headers and decoded bodies by media type
// ("text/plain", "text/html").
type Parsed struct {
	Header netmail.Header
	Bodies map[string]string
}

// Parse decodes m's headers and its text parts.
func (m Message) Parse() (*Parsed, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, err
	}
	p := &Parsed{Header: msg.Header, Bodies: map[string]string{}}
	if err := collect(p, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return nil, err
	}
	return p, nil
}

// Subject is the decoded Subject header.
func (p *Parsed) Subject() string {
	s, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
	if err != nil {
		return p.Header.Get("Subject")
	}
	return s
}

func collect(p *Parsed, ctype, cte string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := collect(p, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(cte) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	p.Bodies[mt] = strings.ReplaceAll(string(b), "\r\n", "\n")
	return nil
}

func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
