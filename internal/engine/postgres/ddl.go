package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// schemaDDL is the schema's definition taken by pg_dump under the snapshot.
type schemaDDL struct {
	dump     []byte // pg_dump custom format, schema only
	preData  string // SQL of the pre-data section (objects, before rows)
	postData string // SQL of the post-data section (indexes, constraints, ...)
}

// dumpSchema runs pg_dump once under the exported snapshot, then renders
// the pre-data and post-data sections from its archive locally.
func (e *Engine) dumpSchema(ctx context.Context, tools toolSet, snapshotID, schema string) (schemaDDL, error) {
	args := []string{
		"--snapshot=" + snapshotID,
		"--schema-only",
		"--format=custom",
		"--no-password", // the password, if any, is in PGPASSWORD: never prompt
		fmt.Sprintf("--lock-wait-timeout=%dms", e.cfg.LockTimeout.Milliseconds()),
		// -n takes a pattern: the quotes make the name literal.
		"--schema=" + `"` + strings.ReplaceAll(schema, `"`, `""`) + `"`,
	}
	if e.cfg.DSN != "" {
		args = append(args, "--dbname="+RedactDSN(e.cfg.DSN))
	}
	dump := engine.Command{Path: tools.path("pg_dump"), Args: args, Env: e.env()}
	archive, err := dump.Output(ctx)
	if err != nil {
		return schemaDDL{}, err
	}
	ddl := schemaDDL{dump: archive}
	if ddl.preData, err = restoreSection(ctx, tools, archive, "pre-data"); err != nil {
		return schemaDDL{}, err
	}
	if ddl.postData, err = restoreSection(ctx, tools, archive, "post-data"); err != nil {
		return schemaDDL{}, err
	}
	return ddl, nil
}

// restoreSection turns one section of a custom-format archive into SQL;
// pg_restore reads the archive from stdin and needs no database.
func restoreSection(ctx context.Context, tools toolSet, archive []byte, section string) (string, error) {
	cmd := engine.Command{
		Path:  tools.path("pg_restore"),
		Args:  []string{"--section=" + section, "--file=-"},
		Stdin: bytes.NewReader(archive),
	}
	out, err := cmd.Output(ctx)
	if err != nil {
		return "", err
	}
	return string(out), nil
}
