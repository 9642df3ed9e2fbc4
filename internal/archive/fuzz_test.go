package archive

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzLimits keep each fuzz iteration small.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxEntries: 64}

// FuzzVerify runs what production runs on an archive: Verify (through the
// index when there is one, else the sequential walk), VerifyStream (the walk
// alone) and VerifyExtract (what every restore does). Whatever the index
// path accepts, the walk must accept with the same manifest (what tar sees
// is what the index describes), and VerifyExtract must extract exactly the
// files the manifest lists.
func FuzzVerify(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input that finds new
	// coverage, which takes long for inputs of kilobytes.
	files := map[string][]byte{DirDatabase + "/t.s": []byte("1\tx\n")}
	other := map[string][]byte{CopyInFile: []byte("\\copy\n")}
	s := writeArchive(f, files, other)
	if _, err := Verify(context.Background(), bytes.NewReader(s.data), int64(len(s.data)), fuzzLimits); err != nil {
		f.Fatal(err)
	}
	f.Add(s.data)
	f.Add(s.data[:len(s.data)/2])
	entries := []rawEntry{dirEntry(DirDatabase), reg(DirDatabase+"/t.s", files[DirDatabase+"/t.s"]), reg(CopyInFile, other[CopyInFile])}
	f.Add(rawArchive(f, append(entries, manifestEntry(f, newManifest(files, other)))...))
	f.Add(rawArchive(f, reg("../x", []byte("x")), manifestEntry(f, &Manifest{FormatVersion: formatNoIndex})))
	f.Add(rawArchive(f, link(0x32, "l", "/etc"), manifestEntry(f, &Manifest{FormatVersion: formatNoIndex})))
	f.Add(bomb(f, nil, 4, nil))
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	f.Add(trailer{}.marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		rep, err := Verify(ctx, bytes.NewReader(data), int64(len(data)), fuzzLimits)
		checkReport(t, rep, err)
		stream, serr := VerifyStream(ctx, bytes.NewReader(data), fuzzLimits)
		checkReport(t, stream, serr)
		dir := t.TempDir()
		xrep, xerr := VerifyExtract(ctx, bytes.NewReader(data), int64(len(data)), dir, fuzzLimits)
		checkReport(t, xrep, xerr)
		if xrep.Written > fuzzLimits.MaxBytes {
			t.Fatalf("VerifyExtract wrote %d bytes, limit %d", xrep.Written, fuzzLimits.MaxBytes)
		}
		if xerr != nil {
			if names, _ := os.ReadDir(dir); len(names) > 0 {
				t.Fatalf("refused extraction left %d entries", len(names))
			}
		}
		if err != nil {
			return
		}
		if serr != nil {
			t.Fatalf("Verify accepts what VerifyStream refuses: %v", serr)
		}
		if diff := cmp.Diff(rep.Manifest, stream.Manifest); diff != "" {
			t.Fatalf("manifests differ (-Verify +VerifyStream):\n%s", diff)
		}
		if xerr != nil {
			t.Fatalf("VerifyExtract of a verified archive: %v", xerr)
		}
		got := readTree(t, dir)
		for p, want := range rep.Manifest.Expected() {
			if b, ok := got[p]; !ok || sha(b) != want.SHA256 {
				t.Fatalf("%s: extracted %d bytes, want %d with sha %s", p, len(b), want.Bytes, want.SHA256)
			}
		}
		if len(got) != len(rep.Manifest.Expected())+1 {
			t.Fatalf("extracted %d files, manifest lists %d (+ manifest.json)", len(got), len(rep.Manifest.Expected()))
		}
	})
}

// checkReport checks what holds of every report: limits respected, an
// error exactly when problems are listed (or the source failed).
func checkReport(t *testing.T, rep *Report, err error) {
	t.Helper()
	if rep == nil {
		t.Fatal("nil report")
	}
	if rep.StreamBytes > fuzzLimits.MaxBytes+1 && !rep.Indexed || rep.Entries > fuzzLimits.MaxEntries || rep.Bytes > fuzzLimits.MaxBytes {
		t.Fatalf("limits exceeded: %+v", rep)
	}
	if (err == nil) != (len(rep.Problems) == 0) {
		t.Fatalf("error %v with problems %q", err, rep.Problems)
	}
	if err == nil && rep.Manifest == nil {
		t.Fatal("intact archive without a manifest")
	}
}

func FuzzParseManifest(f *testing.F) {
	tables, other := sampleFiles()
	good, err := newManifest(tables, other).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format_version":1}`))
	f.Add([]byte(`{"format_version":2,"files":[{"path":"a","bytes":1,"sha256":"` + sha([]byte("x")) + `"}],"index":[{"path":"a","header":{"c":20,"u":512},"content":[{"c":21,"u":1}]}]}`))
	f.Add([]byte(`{"format_version":1,"files":[{"path":"a/../b","bytes":1,"sha256":"00"}]}`))
	f.Add([]byte(`{"format_version":1,"files":[{"path":"a","bytes":-1}]}`))
	f.Add([]byte(`{"format_version":1,"snapshot_time":"2025-01-02T03:04:05+23:59"}`))
	f.Add([]byte(`{"format_version":1} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		for p, file := range m.Expected() {
			if err := checkPath(p); err != nil || p == ManifestName || file.Bytes < 0 || !validSHA256(file.SHA256) {
				t.Fatalf("accepted %+v (%v)", file, err)
			}
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed manifest: %v", err)
		}
		again, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("ParseManifest of Marshal output: %v\n%s", err, out)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

var dataFileNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

func FuzzDataFileName(f *testing.F) {
	f.Add("hubble", "gl_budget", "hubble", "gl budget")
	f.Add("in", "copy", "", "")
	f.Add("hub.ble", "ta/ble", "hub ble", "ta.ble")
	f.Add("s", "t_2", "s_2", "t")
	f.Add("日本", "\xff", "..", ".")
	f.Fuzz(func(t *testing.T, s1, t1, s2, t2 string) {
		taken := map[string]bool{"copy.in": true}
		var got []string
		for _, p := range [][2]string{{s1, t1}, {s2, t2}, {s1, t1}, {s2, t1}, {s1, t2}} {
			before := len(taken)
			n := DataFileName(p[0], p[1], taken)
			if !dataFileNameRE.MatchString(n) || len(n) > 2*maxNamePart+12 {
				t.Fatalf("DataFileName(%q, %q) = %q", p[0], p[1], n)
			}
			if n == "copy.in" || n == "copy.out" || len(taken) != before+1 || !taken[n] {
				t.Fatalf("DataFileName(%q, %q) = %q: not unique in %v", p[0], p[1], n, taken)
			}
			got = append(got, n)
		}
		if err := checkPath(DirDatabase + "/" + got[0]); err != nil {
			t.Fatalf("%q is not a safe path: %v", got[0], err)
		}
	})
}
