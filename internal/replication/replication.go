// Package replication runs the replication tool's repository export and
// import (Qlik Replicate's repctl on the original appliance) as the
// configured OS user, and turns its failures into the SPEC section 7 texts.
// The product only ever runs the configured command.
package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

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
}

// Export runs the export command so that it writes file, which it then
// requires to exist. The file's folder is handed to Tool.User first (the
// original's chown step) so the tool can write there.
func (t Tool) Export(ctx context.Context, file string) error {
	cred, err := t.credential()
	if err != nil {
		return err
	}
	if cred != nil {
		dir := filepath.Dir(file)
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("hand %s to user %s: %w", dir, t.User, err)
		}
	}
	if err := t.run(ctx, file, cred); err != nil {
		return err
	}
	if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
		return msg.NoFile(file)
	}
	return nil
}

// Import runs the import command on file, which must exist. The file is
// made readable to Tool.User first.
func (t Tool) Import(ctx context.Context, file string) error {
	if _, err := os.Stat(file); err != nil {
		return msg.NoFile(file)
	}
	cred, err := t.credential()
	if err != nil {
		return err
	}
	if cred != nil {
		for _, p := range []string{filepath.Dir(file), file} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("hand %s to user %s: %w", p, t.User, err)
			}
		}
	}
	return t.run(ctx, file, cred)
}

func (t Tool) run(ctx context.Context, file string, cred *syscall.Credential) error {
	if len(t.Argv) == 0 {
		return errors.New("replication command is empty")
	}
	argv := make([]string, len(t.Argv))
	for i, a := range t.Argv {
		argv[i] = strings.ReplaceAll(a, "{file}", file)
	}
	cmd := &engine.Command{Path: argv[0], Args: argv[1:], Credential: cred, Dir: filepath.Dir(file)}
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

// credential resolves User when we run as root; otherwise the command runs
// as ourselves (a non-root service cannot switch users).
func (t Tool) credential() (*syscall.Credential, error) {
	if t.User == "" || os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(t.User)
	if err != nil {
		return nil, fmt.Errorf("replication user %s: %w", t.User, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("replication user %s: non-numeric uid/gid", t.User)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
