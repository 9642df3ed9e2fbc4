// Command hubble-applianceapi is the Hubble appliance's backup service and
// its command-line tools (SPEC section 2). Logic lives in internal/; this
// package parses flags and maps errors to exit codes.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Set by the linker: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// exitError carries a specific exit code (restore's 2: restored with errors).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "hubble-applianceapi",
		Short:         "Backup service of the Hubble analytics appliance",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newBackupCmd(), newRestoreCmd(), newVerifyCmd(), newListCmd(),
		newVersionCmd(), newPruneCmd(), newPasswdCmd(), newDrillCmd())
	return root
}

func main() {
	err := newRoot().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(1)
}
