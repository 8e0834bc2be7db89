package storage

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// BlobConfig says which blob store to open: a local folder, or an S3 bucket
// when S3 is set.
type BlobConfig struct {
	Dir string
	S3  *S3Config
}

// S3Config locates an S3-compatible bucket. Credentials are not here: they come
// from the standard AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_PROFILE, ...), so they never appear in flags, logs or process listings.
type S3Config struct {
	Bucket string
	// Prefix is prepended to every key ("media/"); empty or ending in '/'.
	Prefix string
	// Endpoint is the base URL of a non-AWS service (R2, MinIO, versitygw);
	// empty means AWS itself.
	Endpoint string
	// Region; empty means the AWS environment's, else "us-east-1".
	Region string
	// PathStyle addresses the bucket as endpoint/bucket/key rather than
	// bucket.endpoint/key; most self-hosted servers need it.
	PathStyle bool
}

// String is the s3:// form of the configuration (it holds no secrets).
func (c S3Config) String() string {
	u := url.URL{Scheme: "s3", Host: c.Bucket, Path: "/" + strings.TrimSuffix(c.Prefix, "/")}
	q := url.Values{}
	if c.Endpoint != "" {
		q.Set("endpoint", c.Endpoint)
	}
	if c.Region != "" {
		q.Set("region", c.Region)
	}
	if c.PathStyle {
		q.Set("path-style", "true")
	}
	u.RawQuery = q.Encode()
	return strings.Replace(u.String(), "/?", "?", 1)
}

// ParseBlobLocation reads the --media value: empty means <dataDir>/media, a
// value starting with s3:// selects S3
// (s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true), anything else
// is a local folder.
func ParseBlobLocation(value, dataDir string) (BlobConfig, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return BlobConfig{Dir: filepath.Join(dataDir, "media")}, nil
	}
	if !strings.HasPrefix(strings.ToLower(value), "s3://") {
		if strings.Contains(value, "://") {
			return BlobConfig{}, fmt.Errorf("media store %q: only local folders and s3:// URLs are supported", value)
		}
		return BlobConfig{Dir: value}, nil
	}
	u, err := url.Parse(value)
	if err != nil {
		return BlobConfig{}, fmt.Errorf("media store %q: %w", value, err)
	}
	c := &S3Config{Bucket: u.Host}
	if c.Bucket == "" {
		return BlobConfig{}, fmt.Errorf("media store %q: missing bucket name (s3://BUCKET[/PREFIX])", value)
	}
	if u.User != nil {
		return BlobConfig{}, fmt.Errorf("media store %q: credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", redactUser(u))
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if err := ValidateBlobKey(p); err != nil {
			return BlobConfig{}, fmt.Errorf("media store %q: prefix: %w", value, err)
		}
		c.Prefix = p + "/"
	}
	q := u.Query()
	var unknown []string
	for k, vs := range q {
		if len(vs) != 1 {
			return BlobConfig{}, fmt.Errorf("media store %q: %s given %d times", value, k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			eu, err := url.Parse(v)
			if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
				return BlobConfig{}, fmt.Errorf("media store %q: endpoint %q must be an http:// or https:// URL", value, v)
			}
			c.Endpoint = strings.TrimRight(v, "/")
		case "region":
			c.Region = v
		case "path-style":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return BlobConfig{}, fmt.Errorf("media store %q: path-style %q must be true or false", value, v)
			}
			c.PathStyle = b
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return BlobConfig{}, fmt.Errorf("media store %q: unknown option(s) %s; known: endpoint, region, path-style", value, strings.Join(unknown, ", "))
	}
	return BlobConfig{S3: c}, nil
}

func redactUser(u *url.URL) string {
	v := *u
	v.User = url.User("REDACTED")
	return v.String()
}

// OpenBlobStore opens the store cfg describes.
func OpenBlobStore(ctx context.Context, cfg BlobConfig) (BlobStore, error) {
	if cfg.S3 != nil {
		return NewS3Store(ctx, *cfg.S3)
	}
	return NewLocalStore(cfg.Dir)
}
