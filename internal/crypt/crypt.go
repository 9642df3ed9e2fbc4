// Package crypt owns encryption at rest: archives encrypted with age
// (filippo.io/age) to the configured recipients, and their decryption with
// an identity file. age's format authenticates every 64 KiB chunk, so an
// encrypted archive is read at any offset (DecryptReaderAt) as well as from
// start to end, and any change to it is an error, never altered data.
package crypt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// ErrNoIdentity is returned when an encrypted archive is opened without an
// identity.
var ErrNoIdentity = errors.New("the archive is encrypted (age): give the identity that decrypts it with --identity FILE")

// ErrWrongIdentity is returned when the identity does not decrypt the
// archive.
var ErrWrongIdentity = errors.New("the identity does not decrypt this archive (it was encrypted to other age recipients)")

// Recipients parses age public keys (encryption.age_recipients).
func Recipients(keys []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for i, k := range keys {
		rs, err := age.ParseRecipients(strings.NewReader(k))
		if err != nil {
			return nil, fmt.Errorf("encryption.age_recipients[%d]: %w", i, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// Identities reads an age identity file (as age-keygen writes it). Its
// content never appears in an error.
func Identities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: not an age identity file (AGE-SECRET-KEY-1...)", path)
	}
	return ids, nil
}

// Encrypt returns a writer that encrypts to recipients into w; Close
// writes the last chunk (it does not close w).
func Encrypt(w io.Writer, recipients []age.Recipient) (io.WriteCloser, error) {
	wc, err := age.Encrypt(w, recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt archive: %w", err)
	}
	return wc, nil
}

// DecryptAt opens the plaintext of an encrypted archive of size bytes for
// reading at any offset, and returns its size. The last chunk is
// authenticated before it returns (a truncated archive fails here).
func DecryptAt(r io.ReaderAt, size int64, ids []age.Identity) (io.ReaderAt, int64, error) {
	if len(ids) == 0 {
		return nil, 0, ErrNoIdentity
	}
	pr, n, err := age.DecryptReaderAt(r, size, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, 0, ErrWrongIdentity
		}
		return nil, 0, fmt.Errorf("decrypt archive: %w", err)
	}
	return pr, n, nil
}
