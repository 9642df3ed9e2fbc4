package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWalk(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    func(t *testing.T) sample
	}{
		{"indexed", func(t *testing.T) sample { return writeSample(t) }},
		{"no index", legacySample},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s(t)
			got := map[string][]byte{}
			var dirs []string
			rep, err := Walk(context.Background(), bytes.NewReader(s.data), WalkOptions{}, func(e *Entry) error {
				b, err := io.ReadAll(e)
				got[e.Name()] = b
				return err
			}, func(name string) error {
				dirs = append(dirs, name)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.files, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{DirReplication, DirDatabase}, dirs); diff != "" {
				t.Errorf("directories (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(s.manifest, rep.Manifest); diff != "" {
				t.Errorf("manifest (-want +got):\n%s", diff)
			}
			// What fn leaves unread is read and checked all the same.
			if _, err := Walk(context.Background(), bytes.NewReader(s.data), WalkOptions{}, func(*Entry) error { return nil }, nil); err != nil {
				t.Errorf("Walk reading nothing: %v", err)
			}
		})
	}
}

func TestWalk_errors(t *testing.T) {
	s := writeSample(t)
	stop := errors.New("stop")
	calls := 0
	_, err := Walk(context.Background(), bytes.NewReader(s.data), WalkOptions{}, func(*Entry) error {
		calls++
		return stop
	}, nil)
	if err != stop || calls != 1 {
		t.Errorf("Walk with a failing fn: %v after %d calls, want fn's error after 1", err, calls)
	}

	// Without a known manifest a changed file is only found at the end:
	// fn reads it without error, Walk fails.
	var changed damage
	for _, d := range damages() {
		if d.name == "content byte changed, archive rebuilt" {
			changed = d
		}
	}
	_, err = Walk(context.Background(), bytes.NewReader(changed.archive(t)), WalkOptions{}, func(e *Entry) error {
		_, err := io.ReadAll(e)
		return err
	}, nil)
	if !errors.Is(err, ErrDamaged) {
		t.Errorf("Walk of a changed file: %v, want ErrDamaged", err)
	}

	// With the manifest known first, an entry it does not list never
	// reaches fn, and a changed file fails its own read.
	_, m := sampleEntries(t)
	extra := addEntry(reg(DirDatabase+"/extra.hubble", []byte("x\n")))(t)
	_, err = Walk(context.Background(), bytes.NewReader(extra), WalkOptions{Manifest: m}, func(e *Entry) error {
		if e.Name() == DirDatabase+"/extra.hubble" {
			t.Error("fn saw an entry the manifest does not list")
		}
		return nil
	}, nil)
	if !errors.Is(err, ErrUnsafeEntry) {
		t.Errorf("Walk with an extra entry: %v, want ErrUnsafeEntry", err)
	}
	var readErr error
	_, err = Walk(context.Background(), bytes.NewReader(changed.archive(t)), WalkOptions{Manifest: m}, func(e *Entry) error {
		if _, err := io.ReadAll(e); err != nil {
			readErr = err
		}
		return nil
	}, nil)
	if !errors.Is(readErr, ErrDamaged) || !errors.Is(err, ErrDamaged) {
		t.Errorf("Walk of a changed file with its manifest known: read %v, walk %v; want ErrDamaged", readErr, err)
	}
}
