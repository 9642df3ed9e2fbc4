package archive

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// TestPart: content is cut into members of memberBytes, each an ordinary
// gzip member, and AddPart puts them into the archive unchanged.
func TestPart(t *testing.T) {
	content := planningRows(3, 2*memberBytes+1000)
	var staged bytes.Buffer
	p, err := NewPart(&staged, 1)
	if err != nil {
		t.Fatal(err)
	}
	for rest := content; len(rest) > 0; {
		n := min(len(rest), 300_001) // chunks that straddle member boundaries
		if _, err := p.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := []int64{memberBytes, memberBytes, int64(len(content)) - 2*memberBytes}
	if len(p.members) != len(want) || p.Bytes() != int64(len(content)) || p.SHA256() != sha(content) || p.Compressed() != int64(staged.Len()) {
		t.Fatalf("part: %d bytes, %d compressed, members %+v", p.Bytes(), p.Compressed(), p.members)
	}
	var off int64
	for i, m := range p.members {
		if m.Bytes != want[i] {
			t.Errorf("member %d holds %d bytes, want %d", i, m.Bytes, want[i])
		}
		zr, err := gzip.NewReader(bytes.NewReader(staged.Bytes()[off : off+m.Compressed]))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		if n, err := io.Copy(io.Discard, zr); err != nil || n != m.Bytes {
			t.Errorf("member %d inflates to %d bytes (%v)", i, n, err)
		}
		off += m.Compressed
	}

	var out bytes.Buffer
	w, err := NewWriter(&out, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := w.AddPart(ctx, "big", p, bytes.NewReader(staged.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := finish(t, w); err != nil {
		t.Fatal(err)
	}
	ar, err := OpenIndexed(bytes.NewReader(out.Bytes()), int64(out.Len()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ar.CheckStructure(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := ar.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(e); err != nil || !bytes.Equal(got, content) {
		t.Errorf("read back %d bytes (%v), want %d", len(got), err, len(content))
	}
}

func TestWriter_AddPart_refuses(t *testing.T) {
	ctx := context.Background()
	var staged bytes.Buffer
	p, err := NewPart(&staged, 6)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("rows\n"))
	w, err := NewWriter(io.Discard, 6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddPart(ctx, "open", p, &staged); err == nil {
		t.Error("AddPart of an open part succeeded")
	}
	p.Close()
	if _, err := w.AddPart(ctx, "short", p, bytes.NewReader(staged.Bytes()[:3])); err == nil || !strings.Contains(err.Error(), "shrank") {
		t.Errorf("AddPart of a short staging file: %v", err)
	}
	w, _ = NewWriter(io.Discard, 6)
	if _, err := w.AddPart(ctx, "long", p, io.MultiReader(bytes.NewReader(staged.Bytes()), strings.NewReader("x"))); err == nil || !strings.Contains(err.Error(), "grew") {
		t.Errorf("AddPart of a long staging file: %v", err)
	}
	if _, err := p.Write([]byte("more")); err == nil {
		t.Error("Write after Close succeeded")
	}
}
