// Package replication runs the replication tool's repository export and
// import (Qlik Replicate's repctl on the original appliance) and turns its
// failures into the SPEC section 7 texts. It owns the privilege boundary
// around that tool: run as root, the commands run as the configured OS user
// with its groups, in a folder handed to that user, with an allowlisted
// environment that never holds our database credentials. The product only
// ever runs the configured command.
package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubble/hubble-applianceapi/internal/engine"
	"github.com/hubble/hubble-applianceapi/internal/msg"
)

// Tool is the configured replication command line.
type Tool struct {
	// Argv is the command with a {file} placeholder, e.g.
	// ["repctl", "exportrepository", "json_file={file}"].
	Argv []string
	// User is the OS user the command runs as when we are root; "" = us.
	User string
	// Env is added to the allowlisted environment (replication.env).
	Env map[string]string
}

// Export runs the export command so that it writes file, which it then
// requires to exist. file's folder must exist and hold nothing else: it is
// handed to the user the command runs as (the original's chown step), the
// only place the command needs to write.
func (t Tool) Export(ctx context.Context, file string) error {
	acct, err := t.account()
	if err != nil {
		return err
	}
	if err := acct.handOver(filepath.Dir(file)); err != nil {
		return err
	}
	runErr := t.run(ctx, file, acct)
	// Taken back before we read the export: the user can then no longer
	// swap it for a link to a file only we may read.
	if err := acct.takeBack(filepath.Dir(file)); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if fi, err := os.Lstat(file); err != nil || !fi.Mode().IsRegular() {
		return msg.NoFile(file)
	}
	return nil
}

// Import runs the import command on file, which must exist. The file and
// its folder are handed to the user the command runs as first.
func (t Tool) Import(ctx context.Context, file string) error {
	if _, err := os.Stat(file); err != nil {
		return msg.NoFile(file)
	}
	acct, err := t.account()
	if err != nil {
		return err
	}
	if err := acct.handOver(filepath.Dir(file), file); err != nil {
		return err
	}
	return t.run(ctx, file, acct)
}

// RunsAs names the OS user the commands run as, for logs and plans.
func (t Tool) RunsAs() string {
	acct, err := t.account()
	if err != nil {
		return t.User
	}
	return acct.name
}

// Warning is the start-up warning SPEC section 3 asks for when
// replication.user cannot be honoured because we do not run as root; "" when
// there is nothing to say.
func (t Tool) Warning() string {
	if t.User == "" || os.Geteuid() == 0 {
		return ""
	}
	self := "uid " + fmt.Sprint(os.Geteuid())
	if acct, err := current(); err == nil {
		self = acct.name
	}
	return fmt.Sprintf("replication.user %q is not used: not running as root, the replication commands run as %s", t.User, self)
}

func (t Tool) run(ctx context.Context, file string, acct *account) error {
	if len(t.Argv) == 0 {
		return errors.New("replication command is empty")
	}
	argv := make([]string, len(t.Argv))
	for i, a := range t.Argv {
		argv[i] = strings.ReplaceAll(a, "{file}", file)
	}
	cmd := &engine.Command{Path: argv[0], Args: argv[1:], Credential: acct.cred, Dir: filepath.Dir(file),
		Environ: environ(os.Environ(), acct, t.Env)}
	err := cmd.Run(ctx)
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	detail := err.Error()
	var ce *engine.CommandError
	if errors.As(err, &ce) {
		detail = ce.Stderr
		if detail == "" {
			detail = ce.Err.Error()
		}
	}
	return msg.Command(argv, detail, err)
}
