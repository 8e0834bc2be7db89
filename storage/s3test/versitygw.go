// Package s3test runs a real S3-protocol server (versitygw, posix backend) on
// loopback for tests, so the S3 blob store is exercised against the wire
// protocol and a real server's checks rather than a mock of the SDK.
//
// Use it from TestMain: Start once per test package, Stop at the end, and call
// Need in each test that wants S3. When versitygw is not installed, Need skips
// the test, unless the CI environment variable is set, in which case it fails:
// in CI nothing is skipped.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// ErrNotInstalled means no versitygw binary was found.
var ErrNotInstalled = errors.New("versitygw not found: install it with `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`, or set PILCROW_VERSITYGW to its path")

// Credentials the test server accepts; Start exports them as the standard
// AWS environment variables, which is where the S3 store reads them from.
const (
	AccessKey = "pilcrowtest"
	SecretKey = "pilcrowtestsecret0123456789"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	bin      string
	addr     string
	dir      string
	logPath  string

	mu  sync.Mutex
	cmd *exec.Cmd
	n   int
}

// Find locates the versitygw binary: $PILCROW_VERSITYGW, then PATH, then
// $GOPATH/bin and $HOME/go/bin.
func Find() (string, error) {
	if p := os.Getenv("PILCROW_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PILCROW_VERSITYGW=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Start launches versitygw on a free loopback port with a fresh data folder
// and waits until it answers. It also points the AWS environment variables
// at it.
func Start() (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pilcrow-versitygw-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &Server{Endpoint: "http://" + addr, bin: bin, addr: addr, dir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "versitygw.log")}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return nil, err
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": AccessKey, "AWS_SECRET_ACCESS_KEY": SecretKey, "AWS_REGION": Region,
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	if err := s.Restart(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Restart starts the server again after Stop, on the same address and data.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "--port", s.addr, "--quiet", "posix", s.dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey, "VGW_REGION="+Region)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(s.logPath)
			return fmt.Errorf("versitygw exited at start (%v): %s", err, bytes.TrimSpace(log))
		default:
		}
		res, err := http.Get(s.Endpoint + "/")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("versitygw did not answer on %s within 20s: %w", s.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd = cmd
	go func() {
		// Reap the process whenever it ends; Stop waits on this too.
		<-exited
	}()
	return nil
}

// Stop kills the server (its data stays, for Restart).
func (s *Server) Stop() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	// Wait until the port is closed so callers see the outage at once.
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd = nil
}

// Close stops the server and removes its data.
func (s *Server) Close() {
	if s == nil {
		return
	}
	s.Stop()
	os.RemoveAll(filepath.Dir(s.dir))
}

// Client is a plain SDK client for the server, for checking what a store did.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region: Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// NewBucket creates an empty bucket with a unique name and returns the store
// configuration for it.
func (s *Server) NewBucket(ctx context.Context, prefix string) (storage.S3Config, error) {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("pilcrow-test-%d-%s", n, hex.EncodeToString(rnd[:]))
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return storage.S3Config{}, fmt.Errorf("create bucket %s: %w", name, err)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return storage.S3Config{Bucket: name, Prefix: prefix, Endpoint: s.Endpoint, Region: Region, PathStyle: true}, nil
}

// Need returns the server for a test that requires it. When the server could
// not start it skips the test, or fails it if the CI environment variable is
// set.
func Need(tb testing.TB, s *Server, startErr error) *Server {
	tb.Helper()
	if s != nil {
		return s
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("S3 test server unavailable in CI: %v", startErr)
	}
	tb.Skipf("S3 test server unavailable (set CI=1 to make this fatal): %v", startErr)
	return nil
}
