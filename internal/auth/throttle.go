package auth

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ThrottleOptions tune a Throttle; zero values take the defaults below.
type ThrottleOptions struct {
	Base       time.Duration // delay after one failure; doubled per further failure
	Max        time.Duration // the delay never grows beyond this
	Forget     time.Duration // failures are forgotten this long after the last one
	MaxClients int           // clients remembered at once
	Now        func() time.Time
	// Sleep waits d or until ctx ends; tests inject one that does not sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Defaults of ThrottleOptions.
const (
	DefaultBase       = 200 * time.Millisecond
	DefaultMax        = 5 * time.Second
	DefaultForget     = 15 * time.Minute
	DefaultMaxClients = 10000
)

// Throttle slows clients that sent wrong credentials: after n recent
// failures, each of the client's next attempts waits Base*2^(n-1) (at most
// Max) before it is checked. It never refuses: correct credentials pass
// after the wait, and a success forgets the client's failures. A client is
// an IPv4 address or an IPv6 /64 (one host usually holds a whole /64).
type Throttle struct {
	opts    ThrottleOptions
	mu      sync.Mutex
	clients map[string]*failures
	seq     uint64 // orders failures when the clock does not (equal readings)
}

type failures struct {
	n    int
	last time.Time
	seq  uint64
}

// NewThrottle returns a Throttle with opts.
func NewThrottle(opts ThrottleOptions) *Throttle {
	if opts.Base <= 0 {
		opts.Base = DefaultBase
	}
	if opts.Max <= 0 {
		opts.Max = DefaultMax
	}
	if opts.Forget <= 0 {
		opts.Forget = DefaultForget
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	return &Throttle{opts: opts, clients: make(map[string]*failures)}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Delay is what the client's next attempt waits.
func (t *Throttle) Delay(client string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.clients[client]
	if f == nil {
		return 0
	}
	if t.opts.Now().Sub(f.last) >= t.opts.Forget {
		delete(t.clients, client)
		return 0
	}
	d := t.opts.Base
	for i := 1; i < f.n && d < t.opts.Max; i++ {
		d *= 2
	}
	return min(d, t.opts.Max)
}

// Wait waits the client's delay; it returns ctx's error if ctx ends first.
func (t *Throttle) Wait(ctx context.Context, client string) error {
	if d := t.Delay(client); d > 0 {
		return t.opts.Sleep(ctx, d)
	}
	return nil
}

// Fail records a failed attempt and returns the client's recent failures.
func (t *Throttle) Fail(client string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.opts.Now()
	f := t.clients[client]
	if f == nil || now.Sub(f.last) >= t.opts.Forget {
		if f == nil && len(t.clients) >= t.opts.MaxClients {
			t.evictLocked(now)
		}
		f = &failures{}
		t.clients[client] = f
	}
	f.n++
	f.last = now
	t.seq++
	f.seq = t.seq
	return f.n
}

// Succeed forgets the client's failures.
func (t *Throttle) Succeed(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.clients, client)
}

// evictLocked drops forgotten clients, and the least recent one if none is.
func (t *Throttle) evictLocked(now time.Time) {
	var oldest string
	for k, f := range t.clients {
		if now.Sub(f.last) >= t.opts.Forget {
			delete(t.clients, k)
		} else if oldest == "" || f.seq < t.clients[oldest].seq {
			oldest = k
		}
	}
	if len(t.clients) >= t.opts.MaxClients && oldest != "" {
		delete(t.clients, oldest)
	}
}

// ClientKey is the throttled client of a remote address ("host:port" as
// http.Request.RemoteAddr has it): the IPv4 address, or the IPv6 /64.
func ClientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}
