// Package s3 is the storage target for an S3-compatible bucket (AWS, Ceph,
// SeaweedFS, MinIO, ...) through minio-go: archives are streamed as
// multipart uploads under <prefix><name>, invisible until the upload is
// completed (conditionally: never over an existing object), and checked
// against the sha256 of every part after completion. An upload in progress
// is marked by a locked file in a local folder, so that the uploads of a
// process killed mid-way (or cut off by a dead server) are told apart from
// live ones and aborted later.
package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// Defaults for zero Config fields.
const (
	DefaultPartSize  = 16 << 20
	DefaultOrphanAge = 24 * time.Hour
	minPartSize      = 5 << 20 // S3's own minimum for all parts but the last
)

// Config describes one bucket target.
type Config struct {
	Name      string // the target's name in the configuration (for messages)
	Endpoint  string // host:port, or http(s)://host:port; https when no scheme
	Bucket    string
	Prefix    string
	Region    string
	AccessKey string
	SecretKey string // never logged nor put in an error
	PathStyle bool
	CAFile    string // extra PEM certificates trusted for the endpoint
	SSE       string // "", "AES256" or "aws:kms"
	// MarkDir holds the liveness marks of uploads in progress (a local
	// folder shared by every process of the appliance, e.g. temp_dir).
	MarkDir string
	// PartSize is the size of each uploaded part (0: DefaultPartSize; at
	// least 5 MiB). The upload holds two parts in memory.
	PartSize int
	// OrphanAge: an incomplete upload no mark of this machine names (a
	// lost mark, another machine) counts as orphaned only once it is this
	// old (0: DefaultOrphanAge).
	OrphanAge time.Duration
	// MaxRetries bounds minio-go's retries of one request (0: its default).
	MaxRetries int
}

// Target is a bucket (and key prefix) holding archives.
type Target struct {
	cfg  Config
	core minio.Core
	sse  encrypt.ServerSide
	now  func() time.Time
}

var _ storage.Target = (*Target)(nil)

// New returns the Target for cfg. It does not contact the server.
func New(cfg Config) (*Target, error) {
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return nil, fmt.Errorf("target %s: part size %d below S3's minimum of 5 MiB", cfg.Name, cfg.PartSize)
	}
	if cfg.OrphanAge == 0 {
		cfg.OrphanAge = DefaultOrphanAge
	}
	if cfg.MarkDir == "" {
		return nil, fmt.Errorf("target %s: no folder for upload marks", cfg.Name)
	}
	host, secure, err := endpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", cfg.Name, err)
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", cfg.Name, err)
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("target %s: ca_file: %w", cfg.Name, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("target %s: ca_file %s: no PEM certificate in it", cfg.Name, cfg.CAFile)
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(host, &minio.Options{
		Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: secure, Transport: tr,
		Region: cfg.Region, BucketLookup: lookup, MaxRetries: cfg.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", cfg.Name, err)
	}
	t := &Target{cfg: cfg, core: minio.Core{Client: c}, now: time.Now}
	switch cfg.SSE {
	case "":
	case "AES256":
		t.sse = encrypt.NewSSE()
	case "aws:kms":
		if t.sse, err = encrypt.NewSSEKMS("", nil); err != nil {
			return nil, fmt.Errorf("target %s: sse: %w", cfg.Name, err)
		}
	default:
		return nil, fmt.Errorf("target %s: sse %q: want AES256 or aws:kms", cfg.Name, cfg.SSE)
	}
	return t, nil
}

// endpoint splits "https://host:port" (or "host:port", https) into the host
// and whether TLS is used.
func endpoint(s string) (host string, secure bool, err error) {
	if !strings.Contains(s, "://") {
		return strings.TrimSuffix(s, "/"), true, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("endpoint %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", false, fmt.Errorf("endpoint %q: want host:port or http(s)://host:port", s)
	}
	return u.Host, u.Scheme == "https", nil
}

// Name is the target's configured name.
func (t *Target) Name() string { return t.cfg.Name }

// Location is s3://bucket/<prefix><name>.
func (t *Target) Location(name string) string {
	return "s3://" + t.cfg.Bucket + "/" + t.cfg.Prefix + name
}

func (t *Target) key(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
		return "", fmt.Errorf("target %s: archive name %q: %w", t.cfg.Name, name, os.ErrInvalid)
	}
	return t.cfg.Prefix + name, nil
}

// fail wraps a server error with the target's name, and with os.ErrNotExist
// for a missing object or bucket.
func (t *Target) fail(what string, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NoSuchUpload":
		return fmt.Errorf("target %s: %s: %w (%w)", t.cfg.Name, what, err, os.ErrNotExist)
	case "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken", "ExpiredToken":
		return fmt.Errorf("target %s: %s: %w (check the target's access_key_id and secret_access_key_file, "+
			"or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and what they may do in the bucket)", t.cfg.Name, what, err)
	case "NoSuchBucket":
		return fmt.Errorf("target %s: %s: %w (check the target's bucket)", t.cfg.Name, what, err)
	}
	return fmt.Errorf("target %s: %s: %w", t.cfg.Name, what, err)
}

// List returns the objects directly under the prefix.
func (t *Target) List(ctx context.Context) ([]storage.Entry, error) {
	var out []storage.Entry
	for o := range t.core.Client.ListObjects(ctx, t.cfg.Bucket, minio.ListObjectsOptions{Prefix: t.cfg.Prefix}) {
		if o.Err != nil {
			return nil, t.fail("list "+t.Location(""), o.Err)
		}
		name := strings.TrimPrefix(o.Key, t.cfg.Prefix)
		if name == "" || strings.Contains(name, "/") {
			continue // a "folder" below the prefix
		}
		out = append(out, storage.Entry{Name: name, Size: o.Size, ModTime: o.LastModified})
	}
	return out, nil
}

// Remove deletes a published object; a missing one is os.ErrNotExist (S3
// itself answers a delete of nothing with success).
func (t *Target) Remove(ctx context.Context, name string) error {
	key, err := t.key(name)
	if err != nil {
		return err
	}
	if _, err := t.core.Client.StatObject(ctx, t.cfg.Bucket, key, minio.StatObjectOptions{}); err != nil {
		return t.fail("remove "+t.Location(name), err)
	}
	if err := t.core.Client.RemoveObject(ctx, t.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return t.fail("remove "+t.Location(name), err)
	}
	return nil
}

// exists reports whether key is a published object.
func (t *Target) exists(ctx context.Context, key string) (bool, error) {
	_, err := t.core.Client.StatObject(ctx, t.cfg.Bucket, key, minio.StatObjectOptions{})
	switch {
	case err == nil:
		return true, nil
	case minio.ToErrorResponse(err).Code == "NoSuchKey" || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound:
		return false, nil
	}
	return false, err
}

// errIs reports the S3 error code of err.
func errIs(err error, code string) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == code
}
