package daemon

import (
	"context"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hubble/hubble-applianceapi/internal/api"
	"github.com/hubble/hubble-applianceapi/internal/auth"
	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/tlsserve"
	"github.com/hubble/hubble-applianceapi/internal/web"
)

// newVerifier returns the configured users and tokens as the API's Verifier,
// nil (no credential configured) otherwise, with the start-up warnings of
// SPEC section 8.
func newVerifier(cfg *config.Config, log *slog.Logger) (api.Verifier, error) {
	if !cfg.Auth.Configured() {
		log.Warn("access control: no auth.users or auth.tokens configured: GET /api/ and the Backup endpoints " +
			"(Execute, Status, Cancel) are open to every client; the console, archive downloads, the job list, " +
			"/readyz and /metrics answer loopback clients only")
		return nil, nil
	}
	users := make([]auth.User, len(cfg.Auth.Users))
	for i, u := range cfg.Auth.Users {
		users[i] = auth.User{Name: u.Name, PasswordHash: u.PasswordHash}
	}
	tokens := make([]auth.Token, len(cfg.Auth.Tokens))
	for i, t := range cfg.Auth.Tokens {
		tokens[i] = auth.Token{Name: t.Name, SHA256: t.TokenSHA256}
	}
	v, err := auth.New(users, tokens, auth.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if !cfg.TLS.Enabled() {
		log.Warn("access control without tls: passwords and tokens cross the network in clear text; set tls.cert_file and tls.key_file")
	}
	log.Info("access control", "users", len(users), "tokens", len(tokens))
	return v, nil
}

// listen opens the API's listener: HTTPS when tls is configured (the
// certificate is then reloaded on SIGHUP), else plain HTTP.
func (d *Daemon) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", d.cfg.Listen, err)
	}
	if !d.cfg.TLS.Enabled() {
		return ln, nil
	}
	cert, err := tlsserve.Load(d.cfg.TLS.CertFile, d.cfg.TLS.KeyFile)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	d.log.Info("tls certificate loaded", cert.Describe()...)
	d.OnReload("tls certificate", func() error {
		if err := cert.Reload(); err != nil {
			return err
		}
		d.log.Info("tls certificate loaded", cert.Describe()...)
		return nil
	})
	return tlsserve.NewListener(ln, cert.Config()), nil
}

// freeTimeout bounds one free-space question for the console: a hung NFS
// mount must not hang the page.
const freeTimeout = 3 * time.Second

// freeWithin asks for the free bytes of dir, giving up after timeout (the
// statfs call itself cannot be interrupted; it is left to finish).
func (d *Daemon) freeWithin(dir string, timeout time.Duration) (uint64, error) {
	type result struct {
		n   uint64
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := d.pipeline.FS.FreeBytes(dir)
		ch <- result{n, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.n, r.err
	case <-t.C:
		return 0, fmt.Errorf("no answer from the filesystem within %v (a hung network mount?)", timeout)
	}
}

// overview is the console's view of the service.
func (d *Daemon) overview(ctx context.Context) web.Overview {
	c := d.cfg
	o := web.Overview{
		Version: d.version, Now: time.Now(), User: api.Principal(ctx),
		AuthConfigured: c.Auth.Configured(), TLS: c.TLS.Enabled(), Schema: c.Database.Schema,
		MinFreeMB: c.MinFreeMB, Retention: web.Retention{KeepLast: c.Retention.KeepLast, KeepDays: c.Retention.KeepDays},
		StaleAfter: "", Stale: d.notifier.Stale(),
		MaxConcurrent: c.MaxConcurrentJobs, MaxQueued: c.MaxQueuedJobs,
	}
	if sa := c.Notify.StaleAfter.D(); sa > 0 {
		o.StaleAfter = shortDuration(sa)
	}
	o.Queued, o.Executing = d.manager.Counts()
	for _, s := range c.Schedule {
		o.Schedule = append(o.Schedule, web.Schedule{Cron: s.Cron, Timezone: s.Timezone})
	}
	if t := d.sched.Next(); !t.IsZero() {
		o.NextRun = &t
	}
	if t := d.LastSuccess(); !t.IsZero() {
		o.LastSuccess = &t
	}
	for _, dir := range []struct{ key, path string }{{"temp_dir", c.TempDir}, {"backup_dir", c.BackupDir}} {
		e := web.Dir{Key: dir.key, Path: dir.path}
		if n, err := d.freeWithin(dir.path, freeTimeout); err != nil {
			e.Error = err.Error()
		} else {
			e.FreeBytes = &n
			e.BelowMin = n < uint64(c.MinFreeMB)<<20
		}
		o.Dirs = append(o.Dirs, e)
	}
	return o
}

// serverLog routes net/http's own messages to the log: failed TLS
// handshakes (scanners, plain HTTP on the HTTPS port) at debug level, the
// rest as warnings.
func serverLog(log *slog.Logger) *stdlog.Logger {
	return stdlog.New(serverLogWriter{log}, "", 0)
}

type serverLogWriter struct{ log *slog.Logger }

func (w serverLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// shortDuration writes d as a person would: "36h", "1h30m", "90s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
