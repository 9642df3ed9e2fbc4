package archive

import (
	"context"
	"fmt"
	"io"
)

// ReadManifest streams the archive up to manifest.json and returns it
// parsed. It checks the entries it passes for safety but neither hashes the
// files nor reaches the gzip trailer: it is for listing, Verify is for trust.
func ReadManifest(ctx context.Context, r io.Reader, lim Limits) (*Manifest, error) {
	s, err := openStream(ctx, r, lim)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	for {
		h, err := s.next()
		if err == io.EOF {
			return nil, fmt.Errorf("read manifest: %w", problemf(damaged, "%s: missing", ManifestName))
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		e, err := checkEntry(h)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		if e.dir || e.name != ManifestName {
			continue
		}
		if e.size > maxManifestBytes {
			return nil, fmt.Errorf("read manifest: %w", problemf(tooLarge, "%s: larger than %d bytes", ManifestName, maxManifestBytes))
		}
		data, err := io.ReadAll(s.tr)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", s.classify(err))
		}
		m, err := ParseManifest(data)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", problemf(damaged, "%s: invalid: %v", ManifestName, err))
		}
		return m, nil
	}
}
