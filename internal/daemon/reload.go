package daemon

// Reloader is one thing SIGHUP reloads: the log file (after logrotate),
// certificates, ...
type Reloader struct {
	Name   string
	Reload func() error
}

// OnReload adds fn to what SIGHUP reloads, in the order added. Call it
// before Serve.
func (d *Daemon) OnReload(name string, fn func() error) {
	d.reloaders = append(d.reloaders, Reloader{Name: name, Reload: fn})
}

// reload calls every reloader; one failing does not stop the others.
func (d *Daemon) reload() {
	d.log.Info("SIGHUP: reloading", "what", len(d.reloaders))
	for _, r := range d.reloaders {
		if err := r.Reload(); err != nil {
			d.log.Error("reload failed", "what", r.Name, "error", err)
			continue
		}
		d.log.Info("reloaded", "what", r.Name)
	}
}
