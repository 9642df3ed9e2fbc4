package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"go.uber.org/goleak"

	"github.com/hubble/hubble-applianceapi/internal/s3test"
	"github.com/hubble/hubble-applianceapi/internal/storage"
	"github.com/hubble/hubble-applianceapi/internal/storage/storagetest"
)

func TestMain(m *testing.M) {
	code := s3test.Main(m)
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// newTarget is a target on a fresh bucket of the shared server.
func newTarget(t *testing.T, prefix string) *Target {
	t.Helper()
	return targetOn(t, prefix, minPartSize)
}

// newBenchTarget is a target with the default part size.
func newBenchTarget(b *testing.B) *Target { return targetOn(b, "bench/", 0) }

func targetOn(t testing.TB, prefix string, part int) *Target {
	t.Helper()
	s, bucket := s3test.NewBucket(t)
	tg, err := New(Config{Name: "offsite", Endpoint: "http://" + s.Endpoint, Bucket: bucket, Prefix: prefix,
		AccessKey: s.AccessKey, SecretKey: s.SecretKey, PathStyle: true, MarkDir: t.TempDir(), PartSize: part})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestTarget_Conformance(t *testing.T) {
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) storage.Target { return newTarget(t, "appliance-01/") },
		Partials: func(t *testing.T, tg storage.Target) int {
			ups, err := tg.(*Target).uploads(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return len(ups)
		},
		// A dead writer's upload: started, one part sent, its mark left
		// unlocked, as after kill -9.
		Orphan: func(t *testing.T, st storage.Target, tag string) {
			tg := st.(*Target)
			ctx := context.Background()
			key := tg.cfg.Prefix + "orphan-" + tag + ".tar.gz"
			id, err := tg.core.NewMultipartUpload(ctx, tg.cfg.Bucket, key, minio.PutObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tg.core.PutObjectPart(ctx, tg.cfg.Bucket, key, id, 1, bytes.NewReader([]byte("part")), 4, minio.PutObjectPartOptions{}); err != nil {
				t.Fatal(err)
			}
			m, err := tg.newMark(tag)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.record(tg.cfg.Bucket, key, id); err != nil {
				t.Fatal(err)
			}
			m.release(false)
		},
		Big: 2*minPartSize + 12345,
	})
}

func TestTarget_PrefixKeepsOthersApart(t *testing.T) {
	a := newTarget(t, "appliance-01/")
	ctx := context.Background()
	b, err := New(Config{Name: "other", Endpoint: a.cfg.Endpoint, Bucket: a.cfg.Bucket, Prefix: "appliance-02/",
		AccessKey: a.cfg.AccessKey, SecretKey: a.cfg.SecretKey, PathStyle: true, MarkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := a.Create(ctx, "j", func(int) string { return "x.tar.gz" })
	o.Write([]byte("a"))
	if _, err := o.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if l, err := b.List(ctx); err != nil || len(l) != 0 {
		t.Errorf("other prefix lists %v, %v", l, err)
	}
	if got := a.Location("x.tar.gz"); got != "s3://"+a.cfg.Bucket+"/appliance-01/x.tar.gz" {
		t.Errorf("Location = %q", got)
	}
}

func TestNew_Errors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no mark dir", Config{Name: "n", Endpoint: "h:1"}, "no folder"},
		{"bad endpoint", Config{Name: "n", Endpoint: "ftp://h", MarkDir: "/tmp"}, "endpoint"},
		{"small part", Config{Name: "n", Endpoint: "h:1", MarkDir: "/tmp", PartSize: 1 << 20}, "part size"},
		{"missing ca", Config{Name: "n", Endpoint: "h:1", MarkDir: "/tmp", CAFile: "/nonexistent"}, "ca_file"},
		{"sse", Config{Name: "n", Endpoint: "h:1", MarkDir: "/tmp", SSE: "rot13"}, "sse"},
	} {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error about %s", tt.name, err, tt.want)
		}
	}
}

// TestTarget_StoresPartChecksums: the server keeps the sha256 of every part
// and its composite matches what was sent, so Commit's check needs no
// read-back on this server.
func TestTarget_StoresPartChecksums(t *testing.T) {
	tg := newTarget(t, "p/")
	ctx := context.Background()
	o, err := tg.Create(ctx, "j", func(int) string { return "c.tar.gz" })
	if err != nil {
		t.Fatal(err)
	}
	o.Write(bytes.Repeat([]byte("0123456789abcdef"), (minPartSize+100)/16))
	obj := o.(*object)
	if _, err := o.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := tg.core.Client.StatObject(ctx, tg.cfg.Bucket, "p/c.tar.gz", minio.StatObjectOptions{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := composite(obj.digests); st.ChecksumSHA256 != want || !strings.HasSuffix(want, "-2") {
		t.Errorf("stored checksum %q, want %q (2 parts)", st.ChecksumSHA256, want)
	}
}

// TestTarget_SSE: with sse AES256 the server stores the archive encrypted
// (it says so on the object) and it reads back unchanged.
func TestTarget_SSE(t *testing.T) {
	tg := newTarget(t, "sse/")
	tg.sse = mustSSE(t, "AES256")
	ctx := context.Background()
	o, err := tg.Create(ctx, "j", func(int) string { return "s.tar.gz" })
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("secret rows "), 1000)
	o.Write(want)
	if _, err := o.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := tg.core.Client.StatObject(ctx, tg.cfg.Bucket, "sse/s.tar.gz", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Metadata.Get("X-Amz-Server-Side-Encryption"); got != "AES256" {
		t.Errorf("object's server-side encryption = %q, want AES256", got)
	}
	r, err := tg.Open(ctx, "s.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); !bytes.Equal(got, want) {
		t.Error("read back differs")
	}
}

func mustSSE(t *testing.T, kind string) encrypt.ServerSide {
	t.Helper()
	tg, err := New(Config{Name: "x", Endpoint: "h:1", MarkDir: "/tmp", SSE: kind})
	if err != nil {
		t.Fatal(err)
	}
	return tg.sse
}

// TestReader_ObjectReplacedMeanwhile: a reader never mixes two versions of
// an object: once it was replaced, a read that needs a new request fails.
func TestReader_ObjectReplacedMeanwhile(t *testing.T) {
	tg := newTarget(t, "r/")
	ctx := context.Background()
	o, _ := tg.Create(ctx, "j", func(int) string { return "x.tar.gz" })
	o.Write(bytes.Repeat([]byte("a"), 1000))
	if _, err := o.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := tg.Open(ctx, "x.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ReadAt(make([]byte, 10), 0); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte("b"), 1000)
	if _, err := tg.core.Client.PutObject(ctx, tg.cfg.Bucket, "r/x.tar.gz", bytes.NewReader(other), 1000, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if n, err := r.ReadAt(buf, 500); err == nil {
		t.Errorf("ReadAt after the object was replaced = %d bytes %q, want an error", n, buf[:n])
	}
}
