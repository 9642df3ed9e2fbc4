package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/archive"
)

// ArchiveEntry is one archive of the list, newest first.
type ArchiveEntry struct {
	Name     string    `json:"name"`
	Bytes    int64     `json:"bytes"`
	Created  time.Time `json:"created"`  // the job's start, from the name (UTC)
	Modified time.Time `json:"modified"` // when the file was written
}

type archiveList struct {
	Now      time.Time      `json:"now"`
	Archives []ArchiveEntry `json:"archives"`
}

// listArchives returns the target's archives, newest first; other files are
// not archives and never shown or served.
func (h *Handler) listArchives(ctx context.Context) ([]ArchiveEntry, error) {
	entries, err := h.opts.Archives.List(ctx)
	if err != nil {
		return nil, err
	}
	type sortable struct {
		ArchiveEntry
		seq int
	}
	var rows []sortable
	for _, e := range entries {
		if t, seq, ok := archive.ParseName(e.Name); ok {
			rows = append(rows, sortable{ArchiveEntry{Name: e.Name, Bytes: e.Size, Created: t, Modified: e.ModTime.UTC()}, seq})
		}
	}
	slices.SortFunc(rows, func(a, b sortable) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return b.seq - a.seq
	})
	out := make([]ArchiveEntry, len(rows))
	for i, r := range rows {
		out[i] = r.ArchiveEntry
	}
	return out, nil
}

func (h *Handler) archives(w http.ResponseWriter, r *http.Request) {
	list, err := h.listArchives(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "Unable to list the archives: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, archiveList{Now: time.Now().UTC(), Archives: list})
}

// find returns the listed archive called name: only archives the list shows
// are served.
func (h *Handler) find(w http.ResponseWriter, r *http.Request, name string) (ArchiveEntry, bool) {
	if _, _, ok := archive.ParseName(name); !ok {
		writeError(w, http.StatusNotFound, "No archive called "+strconv.Quote(cutString(name, 128))+".")
		return ArchiveEntry{}, false
	}
	list, err := h.listArchives(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "Unable to list the archives: "+err.Error())
		return ArchiveEntry{}, false
	}
	for _, a := range list {
		if a.Name == name {
			return a, true
		}
	}
	writeError(w, http.StatusNotFound, "No archive called "+strconv.Quote(name)+" in the backup directory.")
	return ArchiveEntry{}, false
}

// writeWindow is how long one write of a download may take; the deadline
// moves on with every write, so a download of any size may last as long as
// it keeps moving (the server's WriteTimeout would cut it otherwise).
const writeWindow = time.Minute

func (h *Handler) download(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := h.find(w, r, name)
	if !ok {
		return
	}
	rc, err := h.opts.Archives.Open(r.Context(), name)
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, fs.ErrNotExist) {
			code = http.StatusNotFound // removed meanwhile (retention)
		}
		writeError(w, code, "Unable to open archive "+name+": "+err.Error())
		return
	}
	defer rc.Close()
	hd := w.Header()
	ctype := "application/gzip"
	if archive.Encrypted(name) {
		ctype = "application/octet-stream" // age
	}
	hd.Set("Content-Type", ctype)
	hd.Set("Content-Length", strconv.FormatInt(a.Bytes, 10))
	hd.Set("Content-Disposition", "attachment; filename=\""+name+"\"; filename*=UTF-8''"+url.PathEscape(name))
	hd.Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	rc2 := http.NewResponseController(w)
	n, err := io.Copy(&deadlineWriter{w: w, rc: rc2}, rc)
	if err != nil || n != a.Bytes {
		// The status line is gone: a short body (Content-Length) tells the client.
		h.opts.Logger.Warn("archive download ended early", "archive", name, "bytes", n, "size", a.Bytes, "error", err)
	}
}

// deadlineWriter pushes the connection's write deadline forward before
// each write.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(writeWindow))
	return d.w.Write(p)
}

// VerifyResult is the answer of a verification on demand.
type VerifyResult struct {
	Name     string   `json:"name"`
	Intact   bool     `json:"intact"`
	Message  string   `json:"message"`  // one line, as `hubble-applianceapi verify` says it
	Problems []string `json:"problems"` // each damaged, missing or unsafe part
	Tables   int      `json:"tables"`
	Files    int      `json:"files"`
	Bytes    int64    `json:"bytes"` // uncompressed content
	Seconds  float64  `json:"seconds"`
	// Encrypted archives (.tar.gz.age) are not verified here: the service
	// holds no identity to decrypt them.
	Encrypted bool `json:"encrypted"`
}

func (h *Handler) verifyArchive(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := h.find(w, r, name)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.VerifyTimeout)
	defer cancel()
	select {
	case h.verify <- struct{}{}:
		defer func() { <-h.verify }()
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, "Verification not started: "+ctx.Err().Error())
		return
	}
	// The answer comes when the whole archive has been read.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.opts.VerifyTimeout + writeWindow))
	start := time.Now()
	res, err := h.verifyOne(ctx, a)
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "Unable to verify the archive: "+err.Error())
		return
	}
	h.opts.Logger.Info("archive verified on demand", "archive", name, "intact", res.Intact, "message", res.Message)
	writeJSON(w, http.StatusOK, res)
}

// verifyOne verifies an archive; the error is for an archive that could not
// be read at all (a damaged one is a result, not an error).
func (h *Handler) verifyOne(ctx context.Context, a ArchiveEntry) (VerifyResult, error) {
	name := a.Name
	res := VerifyResult{Name: name, Problems: []string{}}
	if archive.Encrypted(name) {
		res.Encrypted = true
		res.Message = "not verified: the archive is encrypted and the service holds no identity to decrypt it; " +
			"run `hubble-applianceapi verify " + name + " --identity FILE` where the identity is kept"
		return res, nil
	}
	rc, err := h.opts.Archives.Open(ctx, name)
	if err != nil {
		return res, fmt.Errorf("open archive %s: %w", name, err)
	}
	defer rc.Close()
	// The archive's index lets several files be checked at once.
	rep, err := archive.Verify(ctx, rc, rc.Size(), archive.Limits{})
	if ctx.Err() != nil {
		return res, fmt.Errorf("verification of %s stopped: %w", name, context.Cause(ctx))
	}
	if rep != nil {
		res.Files, res.Bytes = rep.Files, rep.Bytes
		if rep.Problems != nil {
			res.Problems = rep.Problems
		}
		if rep.Manifest != nil {
			res.Tables = len(rep.Manifest.Tables)
		}
	}
	if err != nil {
		res.Message = "damaged: " + err.Error()
		return res, nil
	}
	res.Intact = true
	res.Message = "intact (" + rep.Summary() + ")"
	return res, nil
}
