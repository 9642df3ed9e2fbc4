package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/archive"
)

// nameSkew is how much earlier than the job's recorded start its archive's
// name may be: the name is the pipeline's start to the second.
const nameSkew = 2 * time.Second

// FindPublished looks in the target for the archive job id published, for a
// job a dead process left unfinished: it may have died (or failed to record
// the job's end, state_dir full) after the archive was published. Candidates
// are the archives named after the job's start (oldest first); one counts
// only if it verifies (every checksum) and its manifest names the job. The
// Result is filled as Run's would be.
func (p *Pipeline) FindPublished(ctx context.Context, id string, started time.Time) (Result, bool, error) {
	entries, err := p.Target.List(ctx)
	if err != nil {
		return Result{}, false, err
	}
	type candidate struct {
		name string
		t    time.Time
		seq  int
	}
	var cands []candidate
	for _, e := range entries {
		if t, seq, ok := archive.ParseName(e.Name); ok && !t.Before(started.Add(-nameSkew).Truncate(time.Second)) {
			cands = append(cands, candidate{e.Name, t, seq})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].t.Equal(cands[j].t) {
			return cands[i].t.Before(cands[j].t)
		}
		return cands[i].seq < cands[j].seq
	})
	for _, c := range cands {
		res, ok, err := p.publishedBy(ctx, c.name, id)
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, false, ctx.Err()
			}
			p.Log.Warn("archive not verified while looking for the archive of an interrupted job", "job", id, "archive", c.name, "error", err)
			continue
		}
		if ok {
			return res, true, nil
		}
	}
	return Result{}, false, nil
}

// publishedBy verifies the archive name and reports whether job id wrote it.
func (p *Pipeline) publishedBy(ctx context.Context, name, id string) (Result, bool, error) {
	rc, err := p.Target.Open(ctx, name)
	if err != nil {
		return Result{}, false, err
	}
	defer rc.Close()
	sum := sha256.New()
	n := &countingWriter{}
	rep, err := archive.VerifyStream(ctx, io.TeeReader(rc, io.MultiWriter(sum, n)), archive.Limits{})
	if err != nil {
		return Result{}, false, fmt.Errorf("verify %s: %w", name, err)
	}
	if rep.Manifest == nil || rep.Manifest.Job != id {
		return Result{}, false, nil
	}
	res := Result{Name: name, Bytes: n.n, SHA256: hex.EncodeToString(sum.Sum(nil)), Tables: len(rep.Manifest.Tables)}
	for _, t := range rep.Manifest.Tables {
		res.Rows += t.Rows
	}
	return res, true, nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }
