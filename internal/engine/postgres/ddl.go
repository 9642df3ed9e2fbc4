package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/hubble/hubble-applianceapi/internal/engine"
)

// schemaDDL is the schema's definition taken by pg_dump under the snapshot.
type schemaDDL struct {
	dump     []byte     // pg_dump custom format, schema only
	preData  tocSection // objects, before rows
	postData tocSection // indexes, constraints, ...
}

// dumpSchema runs pg_dump once under the exported snapshot, then reads the
// pre-data and post-data sections from its archive locally.
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
	if ddl.preData, ddl.postData, err = readTOC(ctx, tools, archive); err != nil {
		return schemaDDL{}, err
	}
	return ddl, nil
}
