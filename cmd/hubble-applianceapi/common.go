package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/logging"
)

// env bundles what every config-reading command sets up.
type env struct {
	cfg *config.Config
	log *slog.Logger
	out *logging.Output
}

func (e *env) Close() { e.out.Close() }

func addConfigFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "config", "", "configuration file (default $HUBBLE_CONFIG, else "+config.DefaultPath+")")
}

// withConfig wraps the body of a command that needs the configuration and
// the troubleshooting log, and closes the log when the body returns.
func withConfig(configFlag *string, body func(cmd *cobra.Command, args []string, e *env) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := setup(*configFlag)
		if err != nil {
			return err
		}
		defer e.Close()
		return body(cmd, args, e)
	}
}

// setup loads the configuration and opens the troubleshooting log;
// warnings about unknown HUBBLE_* variables go to the log.
func setup(configFlag string) (*env, error) {
	cfg, warnings, err := config.Load(config.Path(configFlag), os.Environ())
	if err != nil {
		return nil, err
	}
	log, out, err := logging.Open(cfg.LogFile, os.Stderr, slog.LevelInfo)
	if err != nil {
		return nil, err
	}
	for _, w := range append(warnings, daemon.Warnings(cfg)...) {
		log.Warn(w)
	}
	return &env{cfg: cfg, log: log, out: out}, nil
}
