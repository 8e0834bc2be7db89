package web_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
)

// A body trickled one byte a second is cut off at the body deadline: JSON
// bodies at --body-timeout, multipart uploads at --upload-timeout. The client
// is a raw TCP connection on loopback, so nothing in between buffers.
func TestTrickledBodiesAreCutOff(t *testing.T) {
	ts := newTestSite(t, func(c *site.Config) {
		c.Web.BodyTimeout = time.Second
		c.Web.UploadTimeout = 2 * time.Second
	})
	addr := mustURL(t, ts.URL).Host
	admin := ts.as(cms.RoleAdmin)
	auth := fmt.Sprintf("Cookie: %s=%s\r\nX-CSRF-Token: %s\r\n", admin.Session.Name, admin.Session.Value, admin.CSRF)
	for _, tt := range []struct {
		name, path, contentType string
		want                    int // status; -1: a 4xx or closed without an answer
	}{
		{"json", "/api/auth/login", "application/json", http.StatusRequestTimeout},
		{"upload", "/api/media", "multipart/form-data; boundary=xyz", -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			const length = 200 // 200 s at a byte a second, far beyond both deadlines
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n", tt.path, addr, auth, tt.contentType, length)
			sent := make(chan int, 1)
			stop := make(chan struct{})
			go func() {
				n := 0
				defer func() { sent <- n }()
				for n < length {
					if _, err := conn.Write([]byte(" ")); err != nil { // whitespace: valid JSON so far
						return
					}
					n++
					select {
					case <-stop:
						return
					case <-time.After(time.Second):
					}
				}
			}()
			// A bound for the test only: the server must act long before.
			conn.SetReadDeadline(time.Now().Add(60 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			var status int
			if err == nil {
				status = res.StatusCode
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				// Then the server closes the connection.
				_, err = conn.Read(make([]byte, 1))
				if !errors.Is(err, io.EOF) && !isReset(err) {
					t.Errorf("after the answer, read %v; want the connection closed", err)
				}
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
				t.Fatalf("reading the answer: %v (want an answer or a closed connection)", err)
			}
			if tt.want == -1 && status != 0 && (status < 400 || status > 499) || tt.want > 0 && status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
			close(stop)
			if n := <-sent; n >= length {
				t.Errorf("the whole body was accepted (%d bytes)", n)
			}
		})
	}
	// A body sent at once is unaffected, and a long handler after the body
	// keeps its context (the deadline is lifted at the end of the body).
	res, err := http.Post(ts.URL+"/api/auth/login", "application/json", strings.NewReader(`{"email":"a@example.com","password":"wrong password here"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("prompt login: status %d, want 401", res.StatusCode)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}
