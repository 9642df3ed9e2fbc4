package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/jobs"
	"github.com/hubble/hubble-applianceapi/internal/s3test"
	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// pausing is the local target with a reader that stops after `after`
// bytes until released: the copy to the bucket is then in the middle of
// its multipart upload, and the test can kill the server right there.
type pausing struct {
	storage.Target
	after   int64
	paused  chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *pausing) Open(ctx context.Context, name string) (storage.Reader, error) {
	r, err := p.Target.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &pausingReader{Reader: r, p: p}, nil
}

type pausingReader struct {
	storage.Reader
	p *pausing
	n int64
}

func (r *pausingReader) Read(b []byte) (int, error) {
	if r.n >= r.p.after {
		r.p.once.Do(func() { close(r.p.paused) })
		<-r.p.release
	} else if rest := r.p.after - r.n; int64(len(b)) > rest {
		b = b[:rest]
	}
	n, err := r.Reader.Read(b)
	r.n += int64(n)
	return n, err
}

// TestOffsite_ServerKilledMidUpload: the S3 server dies (SIGKILL) while an
// archive is being uploaded. The backup fails with the target's message
// and keeps the complete local archive; the incomplete multipart upload,
// which nobody could abort while the server was down, is aborted by the
// next backup once the server is back: none is left behind.
func TestOffsite_ServerKilledMidUpload(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	srv, err := s3test.Start(ctx, t.TempDir(), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	bucket, err := srv.Bucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := &bucketEnv{srv: srv, bucket: bucket, secretFile: filepath.Join(t.TempDir(), "secret")}
	os.WriteFile(b.secretFile, []byte(srv.SecretKey), 0o600)
	cfg := e.config(t, "storage:\n  targets:\n"+b.target("offsite", ""))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	p, err := daemon.NewPipeline(cfg, log, "test")
	if err != nil {
		t.Fatal(err)
	}
	pz := &pausing{Target: p.Target, after: 64 << 10, paused: make(chan struct{}), release: make(chan struct{})}
	p.Target = pz
	go func() {
		<-pz.paused
		if n := b.uploads(t); n != 1 {
			t.Errorf("%d uploads in progress when the server is killed, want 1", n)
		}
		srv.Kill()
		close(pz.release)
	}()
	_, err = p.Run(ctx, jobs.NewID(), nil)
	des, _ := os.ReadDir(e.BackupDir)
	if len(des) != 1 {
		t.Fatalf("backup_dir holds %v, want the complete archive", des)
	}
	kept := filepath.Join(e.BackupDir, des[0].Name())
	if err == nil || !strings.HasPrefix(err.Error(), "Off-site copy failed: target offsite: ") ||
		!strings.HasSuffix(err.Error(), "The local archive was kept: "+kept) {
		t.Fatalf("Run = %v; want the off-site failure naming the kept archive", err)
	}
	t.Logf("job message: %s", err)

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// The server kept the upload it was receiving; nobody could abort it.
	if n := b.uploads(t); n != 1 {
		t.Errorf("%d incomplete uploads after the restart, want the one cut off", n)
	}
	p2, err := daemon.NewPipeline(cfg, log, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Run(ctx, jobs.NewID(), nil); err != nil {
		t.Fatalf("next backup: %v", err)
	}
	if n := b.uploads(t); n != 0 {
		t.Errorf("%d incomplete multipart uploads left behind", n)
	}
	if objs := b.objects(t); len(objs) != 1 {
		t.Errorf("bucket holds %v, want the second archive only", objs)
	}
	if marks, _ := filepath.Glob(filepath.Join(e.TempDir, ".hubble-s3-upload-*")); len(marks) != 0 {
		t.Errorf("upload marks left in temp_dir: %v", marks)
	}
}
