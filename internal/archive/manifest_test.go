package archive

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseManifest(t *testing.T) {
	tables, other := sampleFiles()
	good := newManifest(tables, other)
	data, err := good.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(good, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(data), `"name": "\"hubble\".\"gl_budget\""`) {
		t.Errorf("manifest does not hold the quoted table name:\n%s", data)
	}
}

func TestManifest_Expected(t *testing.T) {
	tables, other := sampleFiles()
	m := newManifest(tables, other)
	exp := m.Expected()
	var total int64
	for p, b := range tables {
		total += int64(len(b))
		if diff := cmp.Diff(File{Path: p, Bytes: int64(len(b)), SHA256: sha(b)}, exp[p]); diff != "" {
			t.Errorf("Expected()[%s] (-want +got):\n%s", p, diff)
		}
	}
	for _, b := range other {
		total += int64(len(b))
	}
	if len(exp) != len(tables)+len(other) || m.TotalBytes() != total {
		t.Errorf("Expected() has %d files, TotalBytes() = %d; want %d, %d", len(exp), m.TotalBytes(), len(tables)+len(other), total)
	}
}

func TestParseManifest_invalid(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	file := func(path string, size int64, sha string) string {
		return `{"path":"` + path + `","bytes":` + strconv.FormatInt(size, 10) + `,"sha256":"` + sha + `"}`
	}
	entry := func(path string, size int64) string {
		return `{"path":"` + path + `","header":{"c":30,"u":512},"content":[{"c":25,"u":` + strconv.FormatInt(size, 10) + `}]}`
	}
	tests := []struct {
		name, json, want string
	}{
		{"not JSON", `nope`, "parse manifest"},
		{"trailing data", `{"format_version":1}{}`, "data after the JSON object"},
		{"unknown version", `{"format_version":3}`, "unknown format version 3"},
		{"missing version", `{}`, "unknown format version 0"},
		{"absolute path", `{"format_version":1,"files":[` + file("/etc/passwd", 1, sum) + `]}`, "absolute path"},
		{"dot-dot", `{"format_version":1,"files":[` + file("a/../../b", 1, sum) + `]}`, "'..' in path"},
		{"unclean", `{"format_version":1,"files":[` + file("a//b", 1, sum) + `]}`, "not clean"},
		{"empty path", `{"format_version":1,"files":[` + file("", 1, sum) + `]}`, "empty path"},
		{"lists itself", `{"format_version":1,"files":[` + file("manifest.json", 1, sum) + `]}`, "cannot list itself"},
		{"duplicate", `{"format_version":1,"files":[` + file("a", 1, sum) + `,` + file("a", 1, sum) + `]}`, "listed twice"},
		{"file and directory", `{"format_version":1,"files":[` + file("a", 1, sum) + `,` + file("a/b", 1, sum) + `]}`, "listed as a file and used as a directory"},
		{"negative size", `{"format_version":1,"files":[` + file("a", -1, sum) + `]}`, "negative size"},
		{"short sha", `{"format_version":1,"files":[` + file("a", 1, "abc") + `]}`, "sha256 is not"},
		{"upper-case sha", `{"format_version":1,"files":[` + file("a", 1, strings.ToUpper(sum)) + `]}`, "sha256 is not"},
		{"table without schema", `{"format_version":1,"tables":[{"name":"x","table":"x","file":"a","sha256":"` + sum + `"}]}`, "required"},
		{"negative rows", `{"format_version":1,"tables":[{"name":"x","schema":"s","table":"x","file":"a","rows":-1,"sha256":"` + sum + `"}]}`, "negative row count"},
		{"format 2 without an index", `{"format_version":2,"files":[` + file("a", 1, sum) + `]}`, "format 2 needs an index"},
		{"format 1 with an index", `{"format_version":1,"files":[` + file("a", 1, sum) + `],"index":[` + entry("a", 1) + `]}`, "format 1 has no index"},
		{"file not in the index", `{"format_version":2,"files":[` + file("a", 1, sum) + `,` + file("b", 1, sum) + `],"index":[` + entry("a", 1) + `]}`, "file b: not in the index"},
		{"index entry not a file", `{"format_version":2,"files":[` + file("a", 1, sum) + `],"index":[` + entry("a", 1) + `,` + entry("b", 1) + `]}`, "index entry b: not a listed file"},
		{"index entry twice", `{"format_version":2,"files":[` + file("a", 1, sum) + `],"index":[` + entry("a", 1) + `,` + entry("a", 1) + `]}`, "index entry a: listed twice"},
		{"members hold another size", `{"format_version":2,"files":[` + file("a", 1, sum) + `],"index":[` + entry("a", 2) + `]}`, "members hold 2 bytes, the file has 1"},
		{"unsafe index path", `{"format_version":2,"files":[` + file("a", 1, sum) + `],"index":[` + entry("a", 1) + `,` + entry("../x/", 0) + `]}`, "index entry ../x/: '..' in path"},
		{"directory of no file", `{"format_version":2,"files":[` + file("a", 1, sum) + `],"index":[` + entry("a", 1) + `,` + entry("d/", 0) + `]}`, "directory holds no listed file"},
		{"directory with content", `{"format_version":2,"files":[` + file("d/a", 1, sum) + `],"index":[` + entry("d/a", 1) + `,` + entry("d/", 1) + `]}`, "directory with content"},
		{"header member too big", `{"format_version":2,"files":[` + file("a", 0, sum) + `],"index":[{"path":"a","header":{"c":20,"u":1048576}}]}`, "header member of 20 bytes (1048576 inflated) is out of range"},
		{"content member too small", `{"format_version":2,"files":[` + file("a", 1, sum) + `],"index":[{"path":"a","header":{"c":20,"u":512},"content":[{"c":3,"u":1}]}]}`, "content member of 3 bytes"},
		{"sizes overflow", `{"format_version":2,"files":[` + file("a", 2, sum) + `],"index":[{"path":"a","header":{"c":20,"u":512},"content":[{"c":9223372036854775807,"u":1},{"c":20,"u":1}]}]}`, "sizes out of range"},
		{"table file clashes with file", `{"format_version":1,"tables":[{"name":"x","schema":"s","table":"x","file":"a","sha256":"` + sum + `"}],"files":[` + file("a", 0, sum) + `]}`, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseManifest(%s) = %v, want an error mentioning %q", tt.json, err, tt.want)
			}
		})
	}
}
