package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Multipart tuning for uploads of unknown size. Memory per upload is bounded
// by about (s3Concurrency+2) parts whatever the file size: S3's minimum part
// size is 5 MiB, and two parts in flight keep a small server busy enough.
const (
	s3PartSize    = 5 << 20
	s3Concurrency = 2
)

// S3Store keeps blobs in an S3-compatible bucket (AWS S3, Cloudflare R2,
// MinIO, versitygw).
type S3Store struct {
	cfg     S3Config
	client  *s3.Client
	uploads *transfermanager.Client
	presign *s3.PresignClient
}

// NewS3Store builds a client for cfg with credentials from the standard AWS
// environment. It does not contact the server, so a site can start while its
// bucket is briefly unreachable; call Check to probe it.
func NewS3Store(ctx context.Context, cfg S3Config) (*S3Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("storage: s3: bucket name is required")
	}
	opts := []func(*config.LoadOptions) error{
		// aws-sdk-go-v2 otherwise sends CRC32 checksums (and validates them on
		// reads) that many S3-compatible servers reject.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// A user is waiting on every call: retry briefly, then report the
		// store unavailable rather than hang for the SDK's 20 s backoff cap.
		o.Retryer = retry.AddWithMaxBackoffDelay(retry.NewStandard(), time.Second)
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	uploads := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = s3PartSize
		o.MultipartUploadThreshold = s3PartSize
		o.Concurrency = s3Concurrency
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		// Abort a failed multipart upload even when the request was cancelled,
		// so no orphaned parts are billed.
		o.FailTimeout = 30 * time.Second
	})
	return &S3Store{cfg: cfg, client: client, uploads: uploads, presign: s3.NewPresignClient(client)}, nil
}

// Describe implements BlobStore.
func (s *S3Store) Describe() string { return "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix }

func (s *S3Store) key(k string) *string { return aws.String(s.cfg.Prefix + k) }

// Check verifies that the bucket is reachable with the configured credentials.
func (s *S3Store) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)}); err != nil {
		return s.wrap("check bucket", "", err)
	}
	return nil
}

// Put implements BlobStore. With a known size the body streams straight into
// one PutObject; with an unknown size it goes up as a multipart upload in
// bounded parts, and a failed upload is aborted so nothing is left behind.
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (BlobInfo, error) {
	if err := ValidateBlobKey(key); err != nil {
		return BlobInfo{}, err
	}
	var ct *string
	if opts.ContentType != "" {
		ct = aws.String(opts.ContentType)
	}
	cr := &countingReader{r: r}
	var err error
	if opts.Size >= 0 {
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.cfg.Bucket), Key: s.key(key), Body: io.NopCloser(cr),
			ContentLength: aws.Int64(opts.Size), ContentType: ct,
		}, s3.WithAPIOptions(
			// The body is a stream that cannot be re-read to hash it, so sign
			// the headers only (UNSIGNED-PAYLOAD), as S3 allows.
			v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware,
		))
	} else {
		_, err = s.uploads.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(s.cfg.Bucket), Key: s.key(key), Body: cr, ContentType: ct,
		})
	}
	if err != nil {
		// Some servers (versitygw among them) keep the bytes received before a
		// streamed body broke off; remove any such partial object.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = s.Delete(dctx, key)
		cancel()
		if cr.err != nil {
			// The source failed (client went away, size cap); not the store's fault.
			return BlobInfo{}, fmt.Errorf("storage: s3 put %s: reading upload: %w", key, cr.err)
		}
		return BlobInfo{}, s.wrap("put", key, err)
	}
	return BlobInfo{Key: key, Size: cr.n, ContentType: opts.ContentType, ModTime: time.Now()}, nil
}

// Stat implements BlobStore.
func (s *S3Store) Stat(ctx context.Context, key string) (BlobInfo, error) {
	if err := ValidateBlobKey(key); err != nil {
		return BlobInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.key(key)})
	if err != nil {
		return BlobInfo{}, s.wrap("stat", key, err)
	}
	return BlobInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType),
		ModTime: aws.ToTime(out.LastModified)}, nil
}

// Open implements BlobStore. The reader fetches lazily with ranged GETs, so
// seeking (as http.ServeContent does for Range requests) costs no download.
func (s *S3Store) Open(ctx context.Context, key string) (BlobReader, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &s3Reader{ctx: ctx, s: s, info: info}, nil
}

// Delete implements BlobStore. S3 answers success for a missing key too.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := ValidateBlobKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.key(key)})
	if err != nil {
		err = s.wrap("delete", key, err)
		if errors.Is(err, ErrBlobNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// PresignGet implements Presigner: a GET URL valid for ttl whose response
// carries the given Content-Type and Content-Disposition.
func (s *S3Store) PresignGet(ctx context.Context, key string, ttl time.Duration, opts PresignOptions) (string, error) {
	if err := ValidateBlobKey(key); err != nil {
		return "", err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.key(key)}
	if opts.ContentType != "" {
		in.ResponseContentType = aws.String(opts.ContentType)
	}
	if opts.ContentDisposition != "" {
		in.ResponseContentDisposition = aws.String(opts.ContentDisposition)
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("storage: s3 presign %s: %w", key, err)
	}
	return req.URL, nil
}

// wrap classifies an SDK error: missing objects are ErrBlobNotFound, refusals
// (4xx) are ErrBlobStore, and everything else (no connection, timeouts, 5xx)
// is ErrBlobUnavailable. The SDK's message is kept for the log.
func (s *S3Store) wrap(op, key string, err error) error {
	if errors.Is(err, context.Canceled) {
		// The caller gave up; the store may be fine.
		return fmt.Errorf("storage: s3 %s %s: %w", op, key, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey":
			return fmt.Errorf("storage: s3 %s %s: %w", op, key, ErrBlobNotFound)
		case "NoSuchBucket":
			return fmt.Errorf("storage: s3 %s %s: bucket %q does not exist: %w: %w", op, key, s.cfg.Bucket, ErrBlobStore, err)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch st := re.HTTPStatusCode(); {
		case st == http.StatusNotFound:
			return fmt.Errorf("storage: s3 %s %s: %w", op, key, ErrBlobNotFound)
		case st == 0 || st >= 500 || st == http.StatusTooManyRequests:
			// 0: the request never got an answer (connection refused, reset).
			return fmt.Errorf("storage: s3 %s %s: %w: %w", op, key, ErrBlobUnavailable, err)
		default:
			return fmt.Errorf("storage: s3 %s %s: %w: %w", op, key, ErrBlobStore, err)
		}
	}
	return fmt.Errorf("storage: s3 %s %s: %w: %w", op, key, ErrBlobUnavailable, err)
}

// countingReader counts bytes and remembers the source's own error, so Put can
// tell a failing upload source from a failing store.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// s3Reader is a seekable view of one object. Reads stream from a GET that
// starts at the current offset; a Seek elsewhere drops that GET.
type s3Reader struct {
	ctx  context.Context
	s    *S3Store
	info BlobInfo
	off  int64
	body io.ReadCloser
}

func (r *s3Reader) Info() BlobInfo { return r.info }

func (r *s3Reader) Read(p []byte) (int, error) {
	if r.off >= r.info.Size {
		return 0, io.EOF
	}
	if r.body == nil {
		out, err := r.s.client.GetObject(r.ctx, &s3.GetObjectInput{
			Bucket: aws.String(r.s.cfg.Bucket), Key: r.s.key(r.info.Key),
			Range: aws.String(fmt.Sprintf("bytes=%d-", r.off)),
		})
		if err != nil {
			return 0, r.s.wrap("get", r.info.Key, err)
		}
		r.body = out.Body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	if err == io.EOF && r.off < r.info.Size {
		err = fmt.Errorf("storage: s3 get %s: body ended at %d of %d bytes: %w", r.info.Key, r.off, r.info.Size, io.ErrUnexpectedEOF)
	}
	return n, err
}

func (r *s3Reader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.info.Size + offset
	default:
		return 0, fmt.Errorf("storage: s3 seek: invalid whence %d", whence)
	}
	if abs < 0 {
		return 0, errors.New("storage: s3 seek: negative position")
	}
	if abs != r.off && r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
	r.off = abs
	return abs, nil
}

func (r *s3Reader) Close() error {
	if r.body != nil {
		err := r.body.Close()
		r.body = nil
		return err
	}
	return nil
}
