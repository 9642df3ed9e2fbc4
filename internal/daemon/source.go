package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/crypt"
	"github.com/hubble/hubble-applianceapi/internal/msg"
	"github.com/hubble/hubble-applianceapi/internal/storage"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// Source is an opened archive (a local file or an object in a bucket),
// decrypted when it is encrypted, read at any offset; Size is the size of
// the plain .tar.gz.
type Source struct {
	Location  string
	Encrypted bool
	io.ReaderAt
	size int64
	raw  storage.Reader
}

// Size is the size of the (decrypted) archive.
func (s *Source) Size() int64 { return s.size }

// Close releases the archive.
func (s *Source) Close() error { return s.raw.Close() }

// Open opens name in tg; an encrypted archive (.tar.gz.age) is decrypted
// with ids, and refused with a clear message without them.
func Open(ctx context.Context, tg storage.Target, name string, ids []age.Identity) (*Source, error) {
	loc := tg.Location(name)
	r, err := tg.Open(ctx, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, ok := tg.(*local.Target); ok {
				return nil, msg.NoFile(loc)
			}
			return nil, fmt.Errorf("archive %s does not exist: %w", loc, err)
		}
		return nil, fmt.Errorf("open archive %s: %w", loc, err)
	}
	s := &Source{Location: loc, ReaderAt: r, size: r.Size(), raw: r}
	if !archive.Encrypted(name) {
		return s, nil
	}
	s.Encrypted = true
	if s.ReaderAt, s.size, err = crypt.DecryptAt(r, r.Size(), ids); err != nil {
		r.Close()
		return nil, fmt.Errorf("archive %s: %w", loc, err)
	}
	return s, nil
}

// OpenArchive opens the archive named on a command line (a path, or
// s3://bucket/key found through the configuration, which may be nil for a
// local path), decrypting it with the identities of identityFile ("" =
// none).
func OpenArchive(ctx context.Context, cfg *config.Config, arg, identityFile string) (*Source, error) {
	var ids []age.Identity
	if identityFile != "" {
		var err error
		if ids, err = crypt.Identities(identityFile); err != nil {
			return nil, fmt.Errorf("--identity: %w", err)
		}
	}
	if cfg == nil {
		cfg = &config.Config{}
	}
	ref, err := ResolveArchive(cfg, arg)
	if err != nil {
		return nil, err
	}
	return Open(ctx, ref.Target, ref.Name, ids)
}
