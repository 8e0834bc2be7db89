package storage_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage"
)

func TestValidateBlobKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"0193a5b2-7c1e-7000-8000-000000000000.png", true},
		{"media/2026/abc.jpg", true},
		{"", false},
		{"/etc/passwd", false},
		{"../x", false},
		{"a/../../x", false},
		{"a//b", false},
		{"a/./b", false},
		{"a\\b", false},
		{"a b", false},
		{"ünïcode", false},
		{"trailing/", false},
		{strings.Repeat("a", 513), false},
	}
	for _, tt := range tests {
		err := storage.ValidateBlobKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateBlobKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, storage.ErrInvalidBlobKey) {
			t.Errorf("ValidateBlobKey(%q) error %v is not ErrInvalidBlobKey", tt.key, err)
		}
	}
}

func TestParseBlobLocation(t *testing.T) {
	tests := []struct {
		in      string
		wantDir string
		wantS3  *storage.S3Config
		wantErr string
	}{
		{in: "", wantDir: filepath.Join("/data", "media")},
		{in: "/srv/media", wantDir: "/srv/media"},
		{in: "s3://bucket", wantS3: &storage.S3Config{Bucket: "bucket"}},
		{in: "s3://bucket/site/media/?region=auto", wantS3: &storage.S3Config{Bucket: "bucket", Prefix: "site/media/", Region: "auto"}},
		{in: "s3://b?endpoint=http://127.0.0.1:9000/&region=us-east-1&path-style=true",
			wantS3: &storage.S3Config{Bucket: "b", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", PathStyle: true}},
		{in: "s3://?region=x", wantErr: "missing bucket"},
		{in: "s3://b?endpoint=ftp://x", wantErr: "must be an http:// or https:// URL"},
		{in: "s3://b?path-style=maybe", wantErr: "path-style"},
		{in: "s3://b?colour=blue&bogus=1", wantErr: "unknown option(s) bogus, colour"},
		{in: "s3://key:secret@b", wantErr: "credentials do not belong in the URL"},
		{in: "s3://b/../x", wantErr: "prefix"},
		{in: "gs://bucket", wantErr: "only local folders and s3://"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := storage.ParseBlobLocation(tt.in, "/data")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Dir != tt.wantDir {
				t.Errorf("Dir = %q, want %q", got.Dir, tt.wantDir)
			}
			if (got.S3 == nil) != (tt.wantS3 == nil) || (got.S3 != nil && *got.S3 != *tt.wantS3) {
				t.Errorf("S3 = %+v, want %+v", got.S3, tt.wantS3)
			}
		})
	}
}

func TestS3ConfigStringRoundTrips(t *testing.T) {
	c := storage.S3Config{Bucket: "b", Prefix: "p/q/", Endpoint: "http://127.0.0.1:9000", Region: "auto", PathStyle: true}
	got, err := storage.ParseBlobLocation(c.String(), "/data")
	if err != nil {
		t.Fatalf("parse %q: %v", c.String(), err)
	}
	if got.S3 == nil || *got.S3 != c {
		t.Fatalf("round trip of %q gave %+v", c.String(), got.S3)
	}
}
