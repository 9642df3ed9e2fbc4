package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// stripeRows makes COPY text rows: mostly short, some longer than a COPY
// buffer (64 KiB; such a row spans reads and must reach one lane whole).
func stripeRows(n int, seed uint64) []string {
	rnd := rand.New(rand.NewPCG(seed, 1))
	rows := make([]string, n)
	for i := range rows {
		size := 10 + rnd.IntN(300)
		if rnd.IntN(500) == 0 {
			size = 64<<10 + rnd.IntN(300<<10)
		}
		rows[i] = fmt.Sprintf("%d\t%s\n", i, strings.Repeat("x", size))
	}
	return rows
}

// runStripe reads src through a stripe with the given lanes (reading like
// pgx's COPY, 64 KiB at a time) and returns each lane's text.
func runStripe(t *testing.T, src io.Reader, lanes int) ([]string, error) {
	t.Helper()
	st := newStripe(engine.RestoreTable{File: "t.hubble"}, src)
	out := make([]string, lanes)
	errs := make([]error, lanes)
	var wg sync.WaitGroup
	for i := range lanes {
		l := st.join()
		if l == nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b bytes.Buffer
			buf := make([]byte, 64<<10)
			for {
				n, err := l.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					if err != io.EOF {
						errs[i] = err
					}
					break
				}
			}
			out[i] = b.String()
			l.done(0, errs[i])
		}()
	}
	wg.Wait()
	st.lanes.Wait()
	return out, errors.Join(errs...)
}

func TestStripe_WholeRows(t *testing.T) {
	for _, tt := range []struct {
		name  string
		rows  int
		lanes int
		noEOL bool // the last row has no newline
	}{
		{"one lane", 3000, 1, false},
		{"two lanes", 30000, 2, false},
		{"four lanes", 30000, 4, true},
		{"empty", 0, 2, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows := stripeRows(tt.rows, uint64(tt.rows+tt.lanes))
			text := strings.Join(rows, "")
			if tt.noEOL {
				text = strings.TrimSuffix(text, "\n")
				rows[len(rows)-1] = strings.TrimSuffix(rows[len(rows)-1], "\n")
			}
			out, err := runStripe(t, strings.NewReader(text), tt.lanes)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			busy := 0
			for _, o := range out {
				if o != "" {
					busy++
				}
				for _, r := range strings.SplitAfter(o, "\n") {
					if r != "" {
						got = append(got, r)
					}
				}
			}
			slices.Sort(got)
			want := slices.Clone(rows)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("the lanes got %d rows, not the %d rows of the source (or not whole)", len(got), len(want))
			}
			if tt.rows > 10000 && busy < 2 {
				t.Errorf("%d of %d lanes got rows", busy, tt.lanes)
			}
		})
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func TestStripe_SourceFailure(t *testing.T) {
	damaged := errors.New("sha256 mismatch")
	text := strings.Join(stripeRows(20000, 7), "")
	_, err := runStripe(t, &failingReader{r: strings.NewReader(text), err: damaged}, 2)
	var se *sourceError
	if !errors.Is(err, damaged) || !errors.As(err, &se) {
		t.Fatalf("lanes ended with %v, want the source's failure", err)
	}
}

func TestStripe_LaneFailureStopsTheOthers(t *testing.T) {
	st := newStripe(engine.RestoreTable{File: "t.hubble"}, bytes.NewReader(bytes.Repeat([]byte("a long row without its end"), 1<<20)))
	a, b := st.join(), st.join()
	buf := make([]byte, 100)
	if _, err := a.Read(buf); err != nil { // a is now in the middle of a row: b waits for it
		t.Fatal(err)
	}
	boom := errors.New("server went away")
	go a.done(0, boom) // a's COPY failed
	_, err := io.ReadAll(b)
	if !errors.Is(err, boom) {
		t.Errorf("the other lane ended with %v, want %v", err, boom)
	}
	b.done(0, nil)
	if st.join() != nil {
		t.Error("a failed stripe took another lane")
	}
}
