package crypt

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestRoundTrip(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	rs, err := Recipients([]string{id.Recipient().String()})
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("hubble "), 50000) // several 64 KiB chunks
	var enc bytes.Buffer
	w, err := Encrypt(&enc, rs)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Close()
	if bytes.Contains(enc.Bytes(), []byte("hubble")) {
		t.Fatal("plaintext visible in the encrypted archive")
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	os.WriteFile(keyFile, []byte("# created: now\n"+id.String()+"\n"), 0o600)
	ids, err := Identities(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	r, n, err := DecryptAt(bytes.NewReader(enc.Bytes()), int64(enc.Len()), ids)
	if err != nil || n != int64(len(plain)) {
		t.Fatalf("DecryptAt = %d, %v", n, err)
	}
	got, _ := io.ReadAll(io.NewSectionReader(r, 0, n))
	if !bytes.Equal(got, plain) {
		t.Fatal("round trip differs")
	}
	buf := make([]byte, 6)
	if _, err := r.ReadAt(buf, 7*40000); err != nil || string(buf) != "hubble" {
		t.Errorf("ReadAt = %q, %v", buf, err)
	}

	if _, _, err := DecryptAt(bytes.NewReader(enc.Bytes()), int64(enc.Len()), []age.Identity{other}); !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("wrong identity: %v", err)
	}
	if _, _, err := DecryptAt(bytes.NewReader(enc.Bytes()), int64(enc.Len()), nil); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("no identity: %v", err)
	}
	// A changed byte is an error when its chunk is read, never other data.
	bad := bytes.Clone(enc.Bytes())
	bad[len(bad)/2] ^= 1
	r, n, err = DecryptAt(bytes.NewReader(bad), int64(len(bad)), ids)
	if err == nil {
		if _, err = io.ReadAll(io.NewSectionReader(r, 0, n)); err == nil {
			t.Error("a damaged encrypted archive decrypted without error")
		}
	}
}

func TestIdentities_Errors(t *testing.T) {
	if _, err := Identities(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("missing file accepted")
	}
	p := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(p, []byte("AGE-SECRET-KEY-1SECRETSTUFF\n"), 0o600)
	if _, err := Identities(p); err == nil || strings.Contains(err.Error(), "SECRETSTUFF") {
		t.Errorf("bad identity file: %v (must fail without showing the content)", err)
	}
}
