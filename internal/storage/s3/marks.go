package s3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubble/hubble-applianceapi/internal/flock"
)

// A mark is a local file that says an upload is in progress: it names the
// upload and is flock'ed by its writer, so the kernel tells a live writer
// from a dead one (kill -9 included). A mark left unlocked means the upload
// still has to be aborted (its writer died, or the server was unreachable
// when it tried).
type mark struct {
	f *os.File
}

type markInfo struct {
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	UploadID string `json:"upload_id"`
}

// markPrefix starts every mark of this target (and tag, when given).
func (t *Target) markPrefix(tag string) string {
	p := ".hubble-s3-upload-" + t.cfg.Name + "-"
	if tag != "" {
		p += sanitize(tag) + "-"
	}
	return p
}

func sanitize(tag string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '*' || r == '-' || r == '?' || r == '[' {
			return '_'
		}
		return r
	}, tag)
}

func (t *Target) newMark(tag string) (*mark, error) {
	f, err := os.CreateTemp(t.cfg.MarkDir, t.markPrefix(tag)+"*")
	if err != nil {
		return nil, fmt.Errorf("target %s: mark upload in %s: %w", t.cfg.Name, t.cfg.MarkDir, err)
	}
	if err := flock.Hold(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("target %s: lock %s: %w", t.cfg.Name, f.Name(), err)
	}
	return &mark{f: f}, nil
}

func (m *mark) record(bucket, key, id string) error {
	b, _ := json.Marshal(markInfo{Bucket: bucket, Key: key, UploadID: id})
	if _, err := m.f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", m.f.Name(), err)
	}
	return m.f.Sync()
}

// release unlocks the mark, removing it when the upload is finished.
func (m *mark) release(remove bool) {
	if remove {
		os.Remove(m.f.Name())
	}
	m.f.Close()
}

type found struct {
	path string
	info markInfo
	ok   bool // content readable
}

// marks lists this target's marks of tag ("" = all).
func (t *Target) marks(tag string) ([]found, error) {
	paths, err := filepath.Glob(filepath.Join(t.cfg.MarkDir, t.markPrefix(tag)+"*"))
	if err != nil {
		return nil, err
	}
	var out []found
	for _, p := range paths {
		fd := found{path: p}
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &fd.info) == nil && fd.info.UploadID != "" {
			fd.ok = fd.info.Bucket == t.cfg.Bucket
		}
		out = append(out, fd)
	}
	return out, nil
}

// uploadingKeys are the keys this machine's live uploads will complete.
func (t *Target) uploadingKeys() (map[string]bool, error) {
	ms, err := t.marks("")
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, m := range ms {
		if gone, err := flock.Abandoned(m.path); m.ok && err == nil && !gone {
			keys[m.info.Key] = true
		}
	}
	return keys, nil
}

// RemovePartials aborts the uploads of tag ("" = every upload under the
// prefix, marked or not) and removes their marks.
func (t *Target) RemovePartials(ctx context.Context, tag string) error {
	ms, err := t.marks(tag)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range ms {
		if m.ok {
			if err := t.abortUpload(m.info.Key, m.info.UploadID); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := os.Remove(m.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if tag == "" {
		ups, err := t.uploads(ctx)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, u := range ups {
			if err := t.abortUpload(u.key, u.id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

type upload struct {
	key, id string
	old     bool // older than OrphanAge
}

// uploads lists the incomplete uploads of objects directly under the prefix.
func (t *Target) uploads(ctx context.Context) ([]upload, error) {
	var out []upload
	keyMarker, idMarker := "", ""
	for {
		res, err := t.core.ListMultipartUploads(ctx, t.cfg.Bucket, t.cfg.Prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, t.fail("list uploads under "+t.Location(""), err)
		}
		for _, u := range res.Uploads {
			if name := strings.TrimPrefix(u.Key, t.cfg.Prefix); name == "" || strings.Contains(name, "/") {
				continue
			}
			out = append(out, upload{key: u.Key, id: u.UploadID, old: t.now().Sub(u.Initiated) > t.cfg.OrphanAge})
		}
		if !res.IsTruncated {
			return out, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// RemoveOrphans aborts the uploads whose writer is gone: those whose mark
// nobody holds any more, and those no mark names that are older than
// OrphanAge (a lost mark, or a writer on a machine that is gone). It
// returns their locations.
func (t *Target) RemoveOrphans(ctx context.Context) ([]string, error) {
	ms, err := t.marks("")
	if err != nil {
		return nil, err
	}
	type state struct {
		path string
		dead bool
	}
	byID := map[string]state{}
	var deadMarks []string
	for _, m := range ms {
		gone, err := flock.Abandoned(m.path)
		if err != nil {
			continue // vanished meanwhile
		}
		if m.ok {
			byID[m.info.UploadID] = state{m.path, gone}
		}
		if gone {
			deadMarks = append(deadMarks, m.path)
		}
	}
	ups, err := t.uploads(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, u := range ups {
		st, marked := byID[u.id]
		if marked && !st.dead || !marked && !u.old {
			continue // live, or perhaps another machine's upload in progress
		}
		if err := t.abortUpload(u.key, u.id); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "s3://"+t.cfg.Bucket+"/"+u.key)
	}
	// Dead marks whose upload is gone now (aborted just above, or by a
	// server-side lifecycle rule) have nothing left to say.
	if len(errs) == 0 {
		for _, p := range deadMarks {
			os.Remove(p)
		}
	}
	return removed, errors.Join(errs...)
}
