package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"filippo.io/age"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/crypt"
	"github.com/hubble/hubble-applianceapi/internal/drill"
	"github.com/hubble/hubble-applianceapi/internal/engine/postgres"
	"github.com/hubble/hubble-applianceapi/internal/storage"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
)

// TriggerDrill is the trigger of scheduled restore drills.
const TriggerDrill = "drill"

// NewDrill builds the drill of cfg: drill.dsn as the scratch database
// (with database.password_file's password, else PGPASSWORD), refused at
// once when it names the source database (a second check at each drill
// compares the servers' identities, whatever the DSNs' spelling).
func NewDrill(cfg *config.Config, log *slog.Logger) (*drill.Drill, error) {
	if cfg.Drill.DSN == "" {
		return nil, errors.New("drill.dsn: no scratch database configured")
	}
	if sameDatabase(cfg.Drill.DSN, cfg.Database.DSN) {
		return nil, fmt.Errorf("drill.dsn: %w", drill.ErrSourceDatabase)
	}
	pw, err := config.ReadSecret(cfg.Database.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("database.password_file: %w", err)
	}
	scratch, err := postgres.New(postgres.Config{DSN: cfg.Drill.DSN, Password: pw})
	if err != nil {
		return nil, fmt.Errorf("drill.dsn: %w", err)
	}
	source, err := NewEngine(cfg)
	if err != nil {
		return nil, err
	}
	return &drill.Drill{Scratch: scratch, SourceID: source.DatabaseID, TempDir: cfg.TempDir,
		Parallel: cfg.Database.Parallel, Log: log}, nil
}

// sameDatabase compares two DSNs by host, port and database as libpq
// would resolve them; DSNs it cannot parse are left to the run-time check.
func sameDatabase(a, b string) bool {
	ca, err1 := pgconn.ParseConfig(a)
	cb, err2 := pgconn.ParseConfig(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return ca.Host == cb.Host && ca.Port == cb.Port && ca.Database == cb.Database
}

// DrillIdentities reads the identity for drills of encrypted archives:
// path, else drill.identity_file; none is no error (an encrypted archive is
// then refused with a clear message).
func DrillIdentities(cfg *config.Config, path string) ([]age.Identity, error) {
	if path == "" {
		path = cfg.Drill.IdentityFile
	}
	if path == "" {
		return nil, nil
	}
	ids, err := crypt.Identities(path)
	if err != nil {
		return nil, fmt.Errorf("drill identity: %w", err)
	}
	return ids, nil
}

// DrillTarget is where drills take the newest archive from: the target
// named (storage.targets), else backup_dir.
func DrillTarget(cfg *config.Config, name string) (storage.Target, error) {
	if name == "" {
		return local.New(cfg.BackupDir), nil
	}
	t, ok := cfg.TargetByName(name)
	if !ok {
		return nil, fmt.Errorf("--target %s: no such target in storage.targets", name)
	}
	return NewTarget(cfg, t)
}

// NewestArchive is the newest archive of tg (by the time in its name).
func NewestArchive(ctx context.Context, tg storage.Target) (string, error) {
	es, err := tg.List(ctx)
	if err != nil {
		return "", err
	}
	type cand struct {
		name string
		key  string
	}
	var cs []cand
	for _, e := range es {
		if t, seq, ok := archive.ParseName(e.Name); ok {
			cs = append(cs, cand{e.Name, fmt.Sprintf("%s/%09d/%s", t.UTC().Format("20060102150405"), seq, e.Name)})
		}
	}
	if len(cs) == 0 {
		return "", fmt.Errorf("no archive in %s", tg.Location(""))
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].key > cs[j].key })
	return cs[0].name, nil
}

// RunDrill drills the archive arg (a path or s3://...), or, when arg is "",
// the newest archive of the target named target ("" = backup_dir).
func RunDrill(ctx context.Context, cfg *config.Config, d *drill.Drill, target, arg, identity string) (*drill.Result, error) {
	ids, err := DrillIdentities(cfg, identity)
	if err != nil {
		return nil, err
	}
	var ref ArchiveRef
	if arg != "" {
		if ref, err = ResolveArchive(cfg, arg); err != nil {
			return nil, err
		}
	} else {
		if ref.Target, err = DrillTarget(cfg, target); err != nil {
			return nil, err
		}
		if ref.Name, err = NewestArchive(ctx, ref.Target); err != nil {
			return nil, fmt.Errorf("drill: %w", err)
		}
	}
	src, err := Open(ctx, ref.Target, ref.Name, ids)
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	defer src.Close()
	return d.Run(ctx, src, src.Location)
}
