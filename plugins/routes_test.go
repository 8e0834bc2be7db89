package plugins

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParseRouteResult(t *testing.T) {
	big := `"` + strings.Repeat("x", MaxRouteBody+1) + `"`
	tests := []struct {
		name    string
		value   string
		status  int
		ctype   string
		body    string
		wantErr string
	}{
		{name: "plain number is 200 JSON", value: `1`, status: 200, ctype: "application/json", body: "1\n"},
		{name: "object without status is JSON", value: `{"a":1}`, status: 200, ctype: "application/json", body: `{"a":1}` + "\n"},
		{name: "null", value: ``, status: 200, ctype: "application/json", body: "null\n"},
		{name: "object with status and extra keys is JSON", value: `{"status":201,"other":true}`, status: 200, body: `{"status":201,"other":true}` + "\n"},
		{name: "full response with text", value: `{"status":201,"body":"made"}`, status: 201, ctype: "text/plain; charset=utf-8", body: "made"},
		{name: "full response with JSON body", value: `{"status":202,"headers":{"Cache-Control":"no-store"},"body":{"ok":true}}`, status: 202, ctype: "application/json", body: `{"ok":true}` + "\n"},
		{name: "content type kept", value: `{"status":200,"headers":{"content-type":"text/csv"},"body":"a,b"}`, status: 200, ctype: "text/csv", body: "a,b"},
		{name: "no body", value: `{"status":204}`, status: 204},
		{name: "x header allowed", value: `{"status":200,"headers":{"X-Count":"3"}}`, status: 200},
		{name: "status too low", value: `{"status":101}`, wantErr: "status must be an integer from 200 to 599"},
		{name: "status too high", value: `{"status":600}`, wantErr: "status must be"},
		{name: "fractional status", value: `{"status":200.5}`, wantErr: "status must be"},
		{name: "string status is JSON data", value: `{"status":"ok"}`, status: 200},
		{name: "set-cookie refused", value: `{"status":200,"headers":{"Set-Cookie":"a=b"}}`, wantErr: `header "Set-Cookie" may not be set`},
		{name: "csp refused", value: `{"status":200,"headers":{"Content-Security-Policy":"none"}}`, wantErr: `header "Content-Security-Policy"`},
		{name: "csrf header refused", value: `{"status":200,"headers":{"X-CSRF-Token":"t"}}`, wantErr: `header "X-CSRF-Token"`},
		{name: "header injection refused", value: `{"status":200,"headers":{"X-A":"a\r\nSet-Cookie: b"}}`, wantErr: "line breaks"},
		{name: "bad header name", value: `{"status":200,"headers":{"X A":"1"}}`, wantErr: `header "X A"`},
		{name: "headers not strings", value: `{"status":200,"headers":{"X-A":1}}`, wantErr: "headers must be an object of strings"},
		{name: "body on 204", value: `{"status":204,"body":"x"}`, wantErr: "status 204 cannot have a body"},
		{name: "text body too large", value: `{"status":200,"body":` + big + `}`, wantErr: "the limit is"},
		{name: "JSON value too large", value: big, wantErr: "the limit is"},
		{name: "allow for a 405", value: `{"status":405,"headers":{"Allow":"GET"}}`, status: 405},
		{name: "x-accel-redirect refused", value: `{"status":200,"headers":{"X-Accel-Redirect":"/etc/passwd"}}`, wantErr: "a front proxy would act on it"},
		{name: "x-accel-buffering refused", value: `{"status":200,"headers":{"x-accel-buffering":"no"}}`, wantErr: "a front proxy"},
		{name: "x-sendfile refused", value: `{"status":200,"headers":{"X-Sendfile":"/var/lib/pilcrow/secret.key"}}`, wantErr: "a front proxy"},
		{name: "x-lighttpd-send-file refused", value: `{"status":200,"headers":{"X-LIGHTTPD-send-file":"/x"}}`, wantErr: "a front proxy"},
		{name: "x-litespeed refused", value: `{"status":200,"headers":{"X-LiteSpeed-Location":"/x"}}`, wantErr: "a front proxy"},
		{name: "x-xss-protection refused", value: `{"status":200,"headers":{"X-XSS-Protection":"0"}}`, wantErr: "a front proxy"},
		{name: "x-frame-options refused", value: `{"status":200,"headers":{"X-Frame-Options":"ALLOWALL"}}`, wantErr: `header "X-Frame-Options"`},
		{name: "hsts refused", value: `{"status":200,"headers":{"Strict-Transport-Security":"max-age=0"}}`, wantErr: `header "Strict-Transport-Security"`},
		{name: "hop-by-hop refused", value: `{"status":200,"headers":{"Transfer-Encoding":"chunked"}}`, wantErr: `header "Transfer-Encoding"`},
		{name: "connection refused", value: `{"status":200,"headers":{"Connection":"close"}}`, wantErr: `header "Connection"`},
		{name: "cors refused", value: `{"status":200,"headers":{"Access-Control-Allow-Origin":"*"}}`, wantErr: `header "Access-Control-Allow-Origin"`},
		{name: "same-site location", value: `{"status":303,"headers":{"Location":"/thanks?x=1"}}`, status: 303},
		{name: "protocol-relative location refused", value: `{"status":302,"headers":{"Location":"//evil.example/"}}`, wantErr: "must be a path on this site"},
		{name: "backslash location refused", value: `{"status":302,"headers":{"Location":"/\\evil.example"}}`, wantErr: "must be a path on this site"},
		{name: "absolute location refused", value: `{"status":302,"headers":{"Location":"https://evil.example/"}}`, wantErr: "declare the origin"},
		{name: "scheme-only location refused", value: `{"status":302,"headers":{"Location":"javascript:alert(1)"}}`, wantErr: "must be a path"},
		{name: "relative location refused", value: `{"status":302,"headers":{"Location":"thanks"}}`, wantErr: "must be a path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseRouteResult(json.RawMessage(tt.value))
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrBadRouteResponse) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status {
				t.Errorf("status %d, want %d", res.Status, tt.status)
			}
			if tt.ctype != "" && res.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("content type %q, want %q", res.Header.Get("Content-Type"), tt.ctype)
			}
			if tt.body != "" && string(res.Body) != tt.body {
				t.Errorf("body %q, want %q", res.Body, tt.body)
			}
		})
	}
}

func TestRouteRedirectOrigins(t *testing.T) {
	redirects := []string{"https://pay.example", "https://shop.example:8443"}
	tests := []struct {
		loc     string
		wantErr string
	}{
		{loc: "https://pay.example/checkout?id=1"},
		{loc: "HTTPS://PAY.EXAMPLE/x"},
		{loc: "https://shop.example:8443/"},
		{loc: "https://shop.example/", wantErr: "neither a path on this site nor"},
		{loc: "http://pay.example/", wantErr: "neither"},
		{loc: "https://pay.example.evil.example/", wantErr: "neither"},
		{loc: "https://user@pay.example/", wantErr: "neither"},
		{loc: "/local"},
	}
	for _, tt := range tests {
		t.Run(tt.loc, func(t *testing.T) {
			v, _ := json.Marshal(map[string]any{"status": 302, "headers": map[string]string{"Location": tt.loc}})
			_, err := ParseRouteResult(v, redirects...)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRequestHeadersDropCredentials(t *testing.T) {
	h := http.Header{}
	h.Set("Cookie", "pilcrow_session=secret")
	h.Set("Authorization", "Bearer secret")
	h.Set("X-CSRF-Token", "secret")
	h.Set("Accept", "application/json")
	h.Set("X-Request-Id", "r1")
	h.Set("Connection", "keep-alive")
	h.Add("Accept-Language", "en")
	h.Add("Accept-Language", "de")
	got := RequestHeaders(h)
	want := map[string]string{"accept": "application/json", "x-request-id": "r1", "accept-language": "en, de"}
	if len(got) != len(want) {
		t.Fatalf("headers = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestRouteBody(t *testing.T) {
	tests := []struct {
		ctype, body, want, wantErr string
	}{
		{"", "", "null", ""},
		{"application/json", `{"a":1}`, `{"a":1}`, ""},
		{"application/merge-patch+json; charset=utf-8", `[1]`, `[1]`, ""},
		{"application/json", `{"a":`, "", "not valid JSON"},
		{"text/plain", "héllo", `"héllo"`, ""},
		{"application/x-www-form-urlencoded", "a=1&b=2", `"a=1\u0026b=2"`, ""},
		{"application/octet-stream", "\xff\xfe", "", "not UTF-8 text"},
	}
	for _, tt := range tests {
		got, err := RouteBody(tt.ctype, []byte(tt.body))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("RouteBody(%q, %q) err = %v, want %q", tt.ctype, tt.body, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("RouteBody(%q, %q) = %s, %v; want %s", tt.ctype, tt.body, got, err, tt.want)
		}
	}
}
