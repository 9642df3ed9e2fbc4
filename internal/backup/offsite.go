package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/msg"
	"github.com/hubble/hubble-applianceapi/internal/storage"
)

// Copy is one off-site target (storage.targets) the published archive is
// copied to.
type Copy struct {
	Name     string
	Target   storage.Target
	Optional bool // a failure is a warning, the job still succeeds
	// Failed, when set, is told about each failure (a metric).
	Failed func(target string)
	// Copied, when set, is told about each copy: bytes and how long it took.
	Copied func(target string, bytes int64, d time.Duration)
}

// copyOffsite copies the complete archive to every target, in order. A
// failing target never removes the local archive, which is complete: the
// first failure of a target that is not optional is the job's error (it
// names the target, its error and the archive kept); optional failures are
// warnings. Every target is tried, whatever failed before it.
func (p *Pipeline) copyOffsite(ctx context.Context, id string, res Result, log *slog.Logger, report func(Progress)) (Result, error) {
	var failed error
	for _, c := range p.Copies {
		report(Progress{Phase: "publish", TablesDone: res.Tables, TablesTotal: res.Tables})
		start := time.Now()
		loc, n, err := p.copyTo(ctx, id, res, c)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err != nil {
			if c.Failed != nil {
				c.Failed(c.Name)
			}
			if c.Optional {
				w := msg.CopyWarning(err, res.Location)
				log.Warn("off-site copy failed (optional target)", "target", c.Name, "error", err, "archive", res.Location)
				res.Warnings = append(res.Warnings, w.Error())
				continue
			}
			log.Error("off-site copy failed", "target", c.Name, "error", err, "archive", res.Location)
			if failed == nil {
				failed = msg.CopyFailed(err, res.Location)
			}
			continue
		}
		d := time.Since(start)
		if c.Copied != nil {
			c.Copied(c.Name, n, d)
		}
		log.Info("off-site copy done", "target", c.Name, "location", loc, "bytes", n, "seconds", d.Seconds(),
			"mb_per_second", float64(n)/(1<<20)/max(d.Seconds(), 1e-9))
		res.Copies = append(res.Copies, loc)
	}
	return res, failed
}

// copyTo streams the published archive to one target and checks that what
// was read is the archive that was written (its sha256); the target checks
// what it stored against what it was sent.
func (p *Pipeline) copyTo(ctx context.Context, id string, res Result, c Copy) (string, int64, error) {
	if removed, err := c.Target.RemoveOrphans(ctx); err == nil {
		for _, r := range removed {
			p.Log.Info("removed an incomplete upload of a dead or cut-off backup", "target", c.Name, "upload", r)
		}
	}
	src, err := p.Target.Open(ctx, res.Name)
	if err != nil {
		return "", 0, fmt.Errorf("target %s: open %s: %w", c.Name, res.Location, err)
	}
	defer src.Close()
	obj, err := c.Target.Create(ctx, id, func(seq int) string {
		if seq == 1 {
			return res.Name
		}
		return fmt.Sprintf("%s.%d", res.Name, seq) // never taken: names are unique per appliance
	})
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(obj, io.TeeReader(src, h))
	if err != nil && !strings.HasPrefix(err.Error(), "target ") {
		err = fmt.Errorf("target %s: copy %s: %w", c.Name, res.Location, err)
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != res.SHA256 {
		err = fmt.Errorf("target %s: the local archive changed while it was copied (its sha256 differs from the one written)", c.Name)
	}
	if err != nil {
		if aerr := obj.Abort(); aerr != nil {
			err = fmt.Errorf("%w (and the incomplete upload could not be aborted now: %v; it is removed by a later backup)", err, aerr)
		}
		return "", n, err
	}
	name, err := obj.Commit(ctx)
	if err != nil {
		return "", n, err
	}
	return c.Target.Location(name), n, nil
}

// SuccessMessage is a successful job's Message: where the archive lives,
// what it holds, and the warnings of optional targets that failed.
func SuccessMessage(res Result) string {
	s := fmt.Sprintf("Backup completed: %s (%d tables, %d rows, %d bytes).", res.Location, res.Tables, res.Rows, res.Bytes)
	if len(res.Copies) > 0 {
		s += " Copies: " + strings.Join(res.Copies, ", ") + "."
	}
	for _, w := range res.Warnings {
		s += " " + w
	}
	return s
}
