package daemon

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Reloader is something SIGHUP refreshes: the TLS certificate, the log file.
type Reloader struct {
	Name   string
	Reload func() error
}

// OnReload adds a reloader run on every SIGHUP, in the order added. Call it
// before Serve.
func (d *Daemon) OnReload(name string, fn func() error) {
	d.reloaders = append(d.reloaders, Reloader{Name: name, Reload: fn})
}

// Reload runs every reloader; one failing does not stop the others, and
// none touches the jobs in flight.
func (d *Daemon) Reload() {
	d.log.Info("reloading on SIGHUP", "reloaders", len(d.reloaders))
	for _, r := range d.reloaders {
		if err := r.Reload(); err != nil {
			d.log.Error("reload failed: the previous one stays in service", "what", r.Name, "error", err)
			continue
		}
		d.log.Info("reloaded", "what", r.Name)
	}
}

// watchHUP reloads on each SIGHUP until ctx ends. SIGHUP is the one place
// the service reloads anything.
func (d *Daemon) watchHUP(ctx context.Context, ready chan<- struct{}) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	close(ready)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			d.Reload()
		}
	}
}
