package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubble/hubble-applianceapi/internal/backup"
	"github.com/hubble/hubble-applianceapi/internal/config"
	"github.com/hubble/hubble-applianceapi/internal/retention"
	"github.com/hubble/hubble-applianceapi/internal/storage"
	"github.com/hubble/hubble-applianceapi/internal/storage/local"
	"github.com/hubble/hubble-applianceapi/internal/storage/s3"
)

// NewTarget builds the off-site target t. The access key comes from
// access_key_id else AWS_ACCESS_KEY_ID, the secret from
// secret_access_key_file else AWS_SECRET_ACCESS_KEY; neither is ever logged.
// Marks of uploads in progress live in temp_dir, which every process of
// the appliance (the service, a CLI backup) shares.
func NewTarget(cfg *config.Config, t config.Target) (*s3.Target, error) {
	key := func(k string) string {
		for i, tt := range cfg.Storage.Targets {
			if tt.Name == t.Name {
				return fmt.Sprintf("storage.targets[%d].%s", i, k)
			}
		}
		return k
	}
	ak := t.AccessKeyID
	if ak == "" {
		ak = os.Getenv("AWS_ACCESS_KEY_ID")
	}
	sk, err := config.ReadSecret(t.SecretAccessKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key("secret_access_key_file"), err)
	}
	if t.SecretAccessKeyFile == "" {
		sk = os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if ak == "" {
		return nil, fmt.Errorf("%s: no access key: set it or AWS_ACCESS_KEY_ID", key("access_key_id"))
	}
	if sk == "" {
		return nil, fmt.Errorf("%s: no secret key: name a file holding it or set AWS_SECRET_ACCESS_KEY", key("secret_access_key_file"))
	}
	return s3.New(s3.Config{
		Name: t.Name, Endpoint: t.Endpoint, Bucket: t.Bucket, Prefix: t.Prefix, Region: t.Region,
		AccessKey: ak, SecretKey: sk, PathStyle: t.PathStyle, CAFile: t.CAFile, SSE: t.SSE, MarkDir: cfg.TempDir,
	})
}

// offsiteCopies builds every configured target as a copy of the pipeline.
func offsiteCopies(cfg *config.Config) ([]backup.Copy, error) {
	var out []backup.Copy
	for _, t := range cfg.Storage.Targets {
		tg, err := NewTarget(cfg, t)
		if err != nil {
			return nil, err
		}
		out = append(out, backup.Copy{Name: t.Name, Target: tg, Optional: t.Optional})
	}
	return out, nil
}

// Scope is one place retention applies to, with its rules.
type Scope struct {
	Name  string // "backup_dir" or the target's name
	Store storage.Target
	Rules retention.Rules
}

// RetentionScopes are backup_dir with retention, then each target with its
// own retention.
func RetentionScopes(cfg *config.Config, p *backup.Pipeline) []Scope {
	out := []Scope{{Name: "backup_dir", Store: p.Target,
		Rules: retention.Rules{KeepLast: cfg.Retention.KeepLast, KeepDays: cfg.Retention.KeepDays}}}
	for _, c := range p.Copies {
		t, _ := cfg.TargetByName(c.Name)
		out = append(out, Scope{Name: c.Name, Store: c.Target,
			Rules: retention.Rules{KeepLast: t.Retention.KeepLast, KeepDays: t.Retention.KeepDays}})
	}
	return out
}

// ArchiveRef is an archive named on the command line: its target and its
// name there.
type ArchiveRef struct {
	Target storage.Target
	Name   string
}

// ResolveArchive maps a local path or s3://bucket/key to its target: the
// configured target with that bucket whose prefix the key starts with (the
// longest such prefix), the file name being the rest of the key.
func ResolveArchive(cfg *config.Config, arg string) (ArchiveRef, error) {
	rest, ok := strings.CutPrefix(arg, "s3://")
	if !ok {
		// A path the user names may be a link (the target itself never
		// follows one in backup_dir).
		p := arg
		if real, err := filepath.EvalSymlinks(arg); err == nil {
			p = real
		}
		dir, name := splitPath(p)
		return ArchiveRef{Target: local.New(dir), Name: name}, nil
	}
	bucket, key, _ := strings.Cut(rest, "/")
	var best *config.Target
	for i, t := range cfg.Storage.Targets {
		if t.Bucket == bucket && strings.HasPrefix(key, t.Prefix) && !strings.Contains(key[len(t.Prefix):], "/") &&
			(best == nil || len(t.Prefix) > len(best.Prefix)) {
			best = &cfg.Storage.Targets[i]
		}
	}
	if best == nil {
		return ArchiveRef{}, errors.New(arg + ": no target in storage.targets has this bucket and a prefix this key starts with")
	}
	tg, err := NewTarget(cfg, *best)
	if err != nil {
		return ArchiveRef{}, err
	}
	return ArchiveRef{Target: tg, Name: key[len(best.Prefix):]}, nil
}

func splitPath(p string) (dir, name string) {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return ".", p
	}
	if i == 0 {
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}
