package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the notify block of the configuration.
type Config struct {
	URL        string            // webhook; "" disables sending (the stale watchdog still runs)
	Headers    map[string]string // added to every request, e.g. Authorization; never logged
	Timeout    time.Duration     // per attempt; 0 means DefaultTimeout
	Retries    int               // further attempts after the first one fails; <0 means 0
	OnSuccess  bool              // also send job.succeeded events
	StaleAfter time.Duration     // 0 disables the stale watchdog
}

// DefaultTimeout is the per-attempt timeout when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

const (
	// maxInFlight bounds the sends (with their retries) running at once; beyond
	// it events are dropped and logged rather than piling up goroutines behind
	// a dead receiver.
	maxInFlight = 32
	// maxBody bounds how much of a receiver's answer is read (to reuse the
	// connection) before it is discarded.
	maxBody = 64 << 10
)

// Option adjusts a Notifier; the options exist for tests and tuning.
type Option func(*Notifier)

// WithClock replaces time.Now for the stale watchdog.
func WithClock(now func() time.Time) Option { return func(n *Notifier) { n.now = now } }

// WithBackoff sets the wait before the first retry (doubled for each further
// retry) and its ceiling. Defaults: 1s and 30s.
func WithBackoff(first, ceiling time.Duration) Option {
	return func(n *Notifier) { n.backoff, n.maxBackoff = first, ceiling }
}

// WithCheckInterval sets how often the stale watchdog looks at the last
// success. Default: StaleAfter/60, between 1s and 1m.
func WithCheckInterval(d time.Duration) Option { return func(n *Notifier) { n.checkEvery = d } }

// Notifier sends events to the webhook. Its methods are safe for concurrent use.
type Notifier struct {
	cfg        Config
	log        *slog.Logger
	target     string // scheme://host of the webhook: its path or query may hold a secret
	host       string
	transport  *http.Transport
	client     *http.Client
	now        func() time.Time
	backoff    time.Duration
	maxBackoff time.Duration
	checkEvery time.Duration

	base   context.Context // canceled when Close gives up waiting
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	inFlight int
	wg       sync.WaitGroup

	stale atomic.Bool
}

// New returns a Notifier for cfg. It fails only on a webhook URL that is not
// an absolute http or https URL.
func New(cfg Config, log *slog.Logger, opts ...Option) (*Notifier, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{
		cfg:        cfg,
		log:        log,
		now:        time.Now,
		backoff:    time.Second,
		maxBackoff: 30 * time.Second,
	}
	if cfg.URL != "" {
		u, err := url.Parse(cfg.URL)
		if err != nil {
			// url.Error repeats the URL, which may hold a secret token.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("parse notify.webhook_url: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("parse notify.webhook_url: want an http:// or https:// URL with a host")
		}
		n.target = u.Scheme + "://" + u.Host
	}
	if n.cfg.Timeout <= 0 {
		n.cfg.Timeout = DefaultTimeout
	}
	if n.cfg.Retries < 0 {
		n.cfg.Retries = 0
	}
	n.checkEvery = min(max(cfg.StaleAfter/60, time.Second), time.Minute)
	for _, o := range opts {
		o(n)
	}
	if h, err := os.Hostname(); err == nil {
		n.host = h
	}
	// An own transport, so Close can drop its idle connections.
	n.transport = http.DefaultTransport.(*http.Transport).Clone()
	n.client = &http.Client{Transport: n.transport}
	n.base, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// Notify sends ev in the background and returns at once. It does nothing when
// no webhook is configured, for job.succeeded unless OnSuccess, and after
// Close. ctx only carries values: the send outlives the caller's
// cancellation, because the caller is typically a job that has just ended.
func (n *Notifier) Notify(ctx context.Context, ev Event) {
	if n.cfg.URL == "" || (ev.Event == EventJobSucceeded && !n.cfg.OnSuccess) {
		return
	}
	if ev.Host == "" {
		ev.Host = n.host
	}
	body, err := json.Marshal(ev)
	if err != nil { // cannot happen with these field types; logged all the same
		n.log.Error("notify: encode event", slog.String("event", ev.Event), slog.String("job_id", ev.ID), slog.Any("error", err))
		return
	}
	n.mu.Lock()
	if n.closed || n.inFlight >= maxInFlight {
		closed := n.closed
		n.mu.Unlock()
		reason := "too many notifications in flight"
		if closed {
			reason = "notifier closed"
		}
		n.log.Warn("notify: event dropped", slog.String("event", ev.Event), slog.String("job_id", ev.ID), slog.String("reason", reason))
		return
	}
	n.inFlight++
	n.wg.Add(1)
	n.mu.Unlock()

	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(n.base, cancel)
	go func() {
		defer n.wg.Done()
		defer func() {
			n.mu.Lock()
			n.inFlight--
			n.mu.Unlock()
		}()
		defer cancel()
		defer stop()
		n.send(sendCtx, ev, body)
	}()
}

// send posts body, retrying with exponential backoff.
func (n *Notifier) send(ctx context.Context, ev Event, body []byte) {
	attrs := []any{slog.String("event", ev.Event), slog.String("job_id", ev.ID), slog.String("webhook", n.target)}
	attempts := n.cfg.Retries + 1
	wait := n.backoff
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				n.log.Error("notify: webhook not notified", append(attrs, slog.Int("attempts", attempt-1), slog.Any("error", ctx.Err()))...)
				return
			case <-t.C:
			}
			wait = min(2*wait, n.maxBackoff)
		}
		err := n.post(ctx, body)
		if err == nil {
			n.log.Info("notify: webhook notified", append(attrs, slog.Int("attempt", attempt))...)
			return
		}
		n.log.Warn("notify: webhook attempt failed", append(attrs, slog.Int("attempt", attempt), slog.Int("of", attempts), slog.Any("error", err))...)
	}
	n.log.Error("notify: webhook not notified", append(attrs, slog.Int("attempts", attempts), slog.String("error", "all attempts failed"))...)
}

// post makes one attempt; any 2xx answer is success.
func (n *Notifier) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request to %s: %w", n.target, stripURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hubble-applianceapi")
	for k, v := range n.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", n.target, stripURL(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to %s: answered %s", n.target, resp.Status)
	}
	return nil
}

// stripURL drops the URL that net/http errors repeat: its path or query may
// be the webhook's secret.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Close stops accepting events and waits for the sends in flight, including
// their retries, until ctx ends; then it aborts them and returns ctx.Err().
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		n.cancel()
		<-done // every wait in send and post ends on cancellation
	}
	n.cancel()
	n.transport.CloseIdleConnections()
	return err
}
