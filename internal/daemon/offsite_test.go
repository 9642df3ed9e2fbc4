package daemon_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/restore"
	"github.com/hubble/hubble-applianceapi/internal/s3test"
)

// bucketEnv is a bucket of the shared S3 server (SeaweedFS) as a target.
type bucketEnv struct {
	srv        *s3test.Server
	bucket     string
	secretFile string
}

func newBucket(t *testing.T) *bucketEnv {
	t.Helper()
	s, b := s3test.NewBucket(t)
	f := filepath.Join(t.TempDir(), "s3.secret")
	if err := os.WriteFile(f, []byte(s.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &bucketEnv{srv: s, bucket: b, secretFile: f}
}

// target is one storage.targets entry for the bucket; extra is appended to
// its keys (e.g. "optional: true").
func (b *bucketEnv) target(name, extra string) string {
	return fmt.Sprintf(`    - name: %s
      type: s3
      endpoint: "http://%s"
      bucket: %s
      prefix: "appliance-01/"
      access_key_id: %s
      secret_access_key_file: %s
      path_style: true
%s`, name, b.srv.Endpoint, b.bucket, b.srv.AccessKey, b.secretFile, extra)
}

// objects lists the keys under the prefix with their sha256.
func (b *bucketEnv) objects(t *testing.T) map[string]string {
	t.Helper()
	c, _ := b.srv.Client()
	ctx := context.Background()
	out := map[string]string{}
	for o := range c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: "appliance-01/"}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		r, err := c.GetObject(ctx, b.bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			continue // removed since it was listed (retention runs meanwhile)
		}
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

// uploads counts the incomplete multipart uploads in the bucket.
func (b *bucketEnv) uploads(t *testing.T) int {
	t.Helper()
	c, _ := b.srv.Client()
	res, err := minio.Core{Client: c}.ListMultipartUploads(context.Background(), b.bucket, "", "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Uploads)
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestOffsite_CopyRestoreAndRetention: each backup is copied to the bucket
// under the prefix, byte for byte; the job record and Message name both
// places; retention applies per target (the bucket keeps 1, backup_dir 3);
// `restore s3://...` streams from the bucket and restores exactly.
func TestOffsite_CopyRestoreAndRetention(t *testing.T) {
	e := newEnv(t)
	b := newBucket(t)
	cfg := e.config(t, "storage:\n  targets:\n"+b.target("offsite", "      retention: {keep_last: 1}\n"))
	r := serve(t, cfg, nil)
	var last jobRecord
	for range 2 {
		job := r.execute(t)
		s := r.waitFinal(t, job.Id, 2*time.Minute)
		if s.Status != "Success" {
			t.Fatalf("backup: %+v", s)
		}
		for _, j := range r.jobs(t) {
			if j.ID == job.Id {
				last = j
			}
		}
		want := "s3://" + b.bucket + "/appliance-01/" + filepath.Base(last.Archive)
		if !slices.Equal(last.Copies, []string{want}) || !strings.Contains(s.Message, "Copies: "+want) {
			t.Fatalf("job record copies %v, message %q; want %s", last.Copies, s.Message, want)
		}
	}
	// Retention runs after the job is recorded: wait until the older copy goes.
	wait(t, 30*time.Second, "the bucket keeps one archive", func() bool { return len(b.objects(t)) == 1 })
	objs := b.objects(t)
	key := "appliance-01/" + filepath.Base(last.Archive)
	if len(objs) != 1 || objs[key] != fileSHA(t, last.Archive) || objs[key] != last.SHA256 {
		t.Fatalf("bucket holds %v; want only %s with the local archive's sha256 %s", objs, key, last.SHA256)
	}
	if des, _ := os.ReadDir(e.BackupDir); len(des) != 2 {
		t.Errorf("backup_dir has %d entries, want both archives (no local retention)", len(des))
	}
	if n := b.uploads(t); n != 0 {
		t.Errorf("%d incomplete uploads left", n)
	}
	if v := r.metric(t, `hubble_backup_offsite_copy_failures_total{target="offsite"}`); v != "0" {
		t.Errorf("failures metric = %s", v)
	}

	// Restore straight from the bucket into another database.
	target := pgtest.NewDB(t)
	if err := pgtest.CreateERP(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	src, err := daemon.OpenArchive(context.Background(), cfg, "s3://"+b.bucket+"/"+key, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rr := &restore.Restorer{Engine: mustEngine(t, target)}
	if _, err := rr.Run(context.Background(), restore.Options{Archive: src.Location, Source: src, TempDir: t.TempDir(), Step: restore.StepDatabase, Parallel: 2}); err != nil {
		t.Fatalf("restore from the bucket: %v", err)
	}
	sameData(t, e.DSN, target)
}

// TestOffsite_WrongCredentials: the job is Error with the target's own
// message, which names the target and the local archive that was kept and
// shows no secret (nor does the log); the archive stays in backup_dir.
func TestOffsite_WrongCredentials(t *testing.T) {
	e := newEnv(t)
	b := newBucket(t)
	const secret = "wr0ng-s3cr3t-v4lue-do-not-show"
	os.WriteFile(b.secretFile, []byte(secret), 0o600)
	logBuf := &syncBuffer{}
	r := serve(t, e.config(t, "storage:\n  targets:\n"+b.target("offsite", "")), logBuf)
	job := r.execute(t)
	s := r.waitFinal(t, job.Id, 2*time.Minute)
	des, _ := os.ReadDir(e.BackupDir)
	if len(des) != 1 {
		t.Fatalf("backup_dir: %v, want the complete archive kept", des)
	}
	kept := filepath.Join(e.BackupDir, des[0].Name())
	if s.Status != "Error" || !strings.HasPrefix(s.Message, "Off-site copy failed: target offsite: ") ||
		!strings.HasSuffix(s.Message, "The local archive was kept: "+kept) || !strings.Contains(s.Message, "check the target's access_key_id") {
		t.Errorf("status = %+v; want Error naming the target, the server's reason and %s", s, kept)
	}
	if strings.Contains(s.Message, secret) || strings.Contains(logBuf.String(), secret) {
		t.Error("the secret key shows in the message or the log")
	}
	if len(b.objects(t)) != 0 || b.uploads(t) != 0 {
		t.Error("something was left in the bucket")
	}
}

// TestOffsite_Optional: an optional target that fails leaves the job a
// Success whose Message warns and names the kept archive, and counts the
// failure in a metric; a required target beside it still gets its copy.
func TestOffsite_Optional(t *testing.T) {
	e := newEnv(t)
	b := newBucket(t)
	bad := *b
	bad.bucket = "no-such-bucket-" + strings.ToLower(hex.EncodeToString([]byte(t.Name()))[:8])
	cfg := e.config(t, "storage:\n  targets:\n"+bad.target("flaky", "      optional: true\n")+b.target("offsite", ""))
	r := serve(t, cfg, nil)
	job := r.execute(t)
	s := r.waitFinal(t, job.Id, 2*time.Minute)
	if s.Status != "Success" || !strings.Contains(s.Message, "Warning: off-site copy to an optional target failed: target flaky: ") ||
		!strings.Contains(s.Message, "The local archive was kept: "+e.BackupDir) {
		t.Fatalf("status = %+v; want Success with a warning naming flaky", s)
	}
	if v := r.metric(t, `hubble_backup_offsite_copy_failures_total{target="flaky"}`); v != "1" {
		t.Errorf(`failures{target="flaky"} = %s, want 1`, v)
	}
	if len(b.objects(t)) != 1 {
		t.Error("the required target did not get its copy")
	}
}

func mustEngine(t *testing.T, dsn string) *postgres.Engine {
	t.Helper()
	cfg := config.Default()
	cfg.Database.DSN = dsn
	eng, err := daemon.NewEngine(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// sameData compares every table of the hubble schema in two databases.
func sameData(t *testing.T, a, b string) {
	t.Helper()
	ctx := context.Background()
	ha, err := pgtest.TableHashes(ctx, a, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	hb, err := pgtest.TableHashes(ctx, b, "hubble")
	if err != nil {
		t.Fatal(err)
	}
	if len(ha) == 0 || len(ha) != len(hb) {
		t.Fatalf("%d tables restored of %d", len(hb), len(ha))
	}
	for k, v := range ha {
		if hb[k] != v {
			t.Errorf("table %s differs after the restore", k)
		}
	}
}

// TestNewTarget_Credentials: without access_key_id and secret_access_key_file
// the credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY;
// without either, start-up stops with a message naming the key.
func TestNewTarget_Credentials(t *testing.T) {
	b := newBucket(t)
	cfg := config.Default()
	cfg.TempDir = t.TempDir()
	cfg.Storage.Targets = []config.Target{{Name: "env", Type: "s3", Endpoint: "http://" + b.srv.Endpoint, Bucket: b.bucket, PathStyle: true}}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := daemon.NewTarget(&cfg, cfg.Storage.Targets[0]); err == nil || !strings.Contains(err.Error(), "storage.targets[0].access_key_id") {
		t.Errorf("no credentials: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", b.srv.AccessKey)
	if _, err := daemon.NewTarget(&cfg, cfg.Storage.Targets[0]); err == nil || !strings.Contains(err.Error(), "storage.targets[0].secret_access_key_file") {
		t.Errorf("no secret: %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", b.srv.SecretKey)
	tg, err := daemon.NewTarget(&cfg, cfg.Storage.Targets[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.List(context.Background()); err != nil {
		t.Errorf("List with credentials from the environment: %v", err)
	}
}

// TestResolveArchive: a local path (a link to an archive too) is its folder
// and name; s3://bucket/key finds the target with that bucket whose prefix
// is the longest the key starts with; any other bucket is an error.
func TestResolveArchive(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "hubble_schema_backup_2026_01_01_00_00_00.tar.gz")
	os.WriteFile(real, []byte("x"), 0o600)
	link := filepath.Join(t.TempDir(), "latest.tar.gz")
	os.Symlink(real, link)
	cfg := config.Default()
	cfg.TempDir = t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	cfg.Storage.Targets = []config.Target{
		{Name: "all", Type: "s3", Endpoint: "h:1", Bucket: "b"},
		{Name: "one", Type: "s3", Endpoint: "h:1", Bucket: "b", Prefix: "appliance-01/"},
	}
	for _, tt := range []struct{ arg, loc, name string }{
		{real, real, filepath.Base(real)},
		{link, real, filepath.Base(real)},
		{"s3://b/appliance-01/x.tar.gz", "s3://b/appliance-01/x.tar.gz", "x.tar.gz"},
		{"s3://b/x.tar.gz", "s3://b/x.tar.gz", "x.tar.gz"},
	} {
		ref, err := daemon.ResolveArchive(&cfg, tt.arg)
		if err != nil || ref.Name != tt.name || ref.Target.Location(ref.Name) != tt.loc {
			t.Errorf("ResolveArchive(%s) = %+v, %v; want %s", tt.arg, ref, err, tt.loc)
		}
	}
	for _, bad := range []string{"s3://other/appliance-01/x.tar.gz", "s3://b/appliance-01/sub/x.tar.gz"} {
		if _, err := daemon.ResolveArchive(&cfg, bad); err == nil {
			t.Errorf("ResolveArchive(%s) succeeded", bad)
		}
	}
}
