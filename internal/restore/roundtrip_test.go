package restore_test

import (
	"context"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

func TestRestorer_Run_RoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		create func(ctx context.Context, dsn, schema string) error
	}{
		{"hubble", "hubble", func(ctx context.Context, dsn, schema string) error {
			return pgtest.CreateHubble(ctx, dsn, pgtest.HubbleOptions{Schema: schema, Rows: 500})
		}},
		{"object rich", "rich", pgtest.CreateObjectRich},
	}
	for _, tt := range tests {
		for _, target := range []string{"", "other_name"} {
			t.Run(tt.name+"/target="+target, func(t *testing.T) {
				ctx := testCtx(t)
				src := pgtest.NewDB(t)
				if err := tt.create(ctx, src, tt.schema); err != nil {
					t.Fatal(err)
				}
				arch := makeArchive(t, src, tt.schema, false)
				dst := pgtest.NewDB(t)
				if err := pgtest.CreateERP(ctx, dst); err != nil {
					t.Fatal(err)
				}
				f := newFixture(t, dst, arch)
				f.opts.Schema = target
				if _, err := f.run(t); err != nil {
					t.Fatalf("Run() error = %v", err)
				}
				if target != "" {
					// Compare as if renamed back: the DDL then names the source schema.
					mustExec(t, dst, "ALTER SCHEMA "+pgtest.QuoteIdent(target)+" RENAME TO "+pgtest.QuoteIdent(tt.schema))
				}
				assertSame(t, stateOf(t, src, tt.schema), stateOf(t, dst, tt.schema))
			})
		}
	}
}
