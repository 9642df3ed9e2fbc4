package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/crypt"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/restore"
)

// identity writes a fresh age identity file and returns it with its
// public key.
func identity(t *testing.T) (file, recipient string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "drill.key")
	if err := os.WriteFile(file, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, id.Recipient().String()
}

// TestEncryption_RoundTrip: with age recipients the archive is one
// encrypted file, <name>.tar.gz.age, locally and in the bucket; neither is
// readable without the identity (not even as gzip); verify and restore
// with --identity work from the bucket; a wrong or missing identity is a
// clear error.
func TestEncryption_RoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	b := newBucket(t)
	key, recipient := identity(t)
	wrong, _ := identity(t)
	cfg := e.config(t, "encryption:\n  age_recipients: [\""+recipient+"\"]\nstorage:\n  targets:\n"+b.target("offsite", ""))
	r := serve(t, cfg, nil)
	job := r.execute(t)
	if s := r.waitFinal(t, job.Id, 2*time.Minute); s.Status != "Success" {
		t.Fatalf("backup: %+v", s)
	}
	des, _ := os.ReadDir(e.BackupDir)
	if len(des) != 1 || !archive.Encrypted(des[0].Name()) {
		t.Fatalf("backup_dir: %v, want one .tar.gz.age", des)
	}
	name := des[0].Name()
	loc := "s3://" + b.bucket + "/appliance-01/" + name
	c, _ := b.srv.Client()
	obj, err := c.GetObject(ctx, b.bucket, "appliance-01/"+name, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(obj)
	obj.Close()
	if !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) || bytes.Contains(raw, []byte("gl_budget")) {
		t.Fatal("the bucket's archive is not an age file, or shows table names")
	}
	if _, err := archive.Verify(ctx, bytes.NewReader(raw), int64(len(raw)), archive.Limits{}); err == nil {
		t.Fatal("the encrypted archive verified as a plain one")
	}

	if _, err := daemon.OpenArchive(ctx, cfg, loc, ""); !errors.Is(err, crypt.ErrNoIdentity) || !strings.Contains(err.Error(), "--identity") {
		t.Errorf("open without identity: %v", err)
	}
	if _, err := daemon.OpenArchive(ctx, cfg, loc, wrong); !errors.Is(err, crypt.ErrWrongIdentity) {
		t.Errorf("open with a wrong identity: %v", err)
	}
	src, err := daemon.OpenArchive(ctx, cfg, loc, key)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if rep, err := archive.Verify(ctx, src, src.Size(), archive.Limits{}); err != nil {
		t.Fatalf("verify with the identity: %v (%v)", err, rep.Problems)
	}
	target := pgtest.NewDB(t)
	if err := pgtest.CreateERP(ctx, target); err != nil {
		t.Fatal(err)
	}
	rr := &restore.Restorer{Engine: mustEngine(t, target)}
	if _, err := rr.Run(ctx, restore.Options{Archive: loc, Source: src, TempDir: t.TempDir(), Step: restore.StepDatabase, Parallel: 2}); err != nil {
		t.Fatalf("restore of the encrypted archive: %v", err)
	}
	sameData(t, e.DSN, target)
}
