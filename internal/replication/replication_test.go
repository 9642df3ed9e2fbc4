package replication

import (
	"context"
	"encoding/json"
	"github.com/hubble/hubble-applianceapi/internal/ostest"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/msg"
)

// standIn copies the repository's repctl stand-in to a directory every OS
// user can reach (the checkout may not be), once per test run.
func standIn(t *testing.T) string {
	standInOnce.Do(func() {
		b, err := os.ReadFile("../../testdata/repctl")
		if err != nil {
			standInErr = err
			return
		}
		d, err := os.MkdirTemp("", "repctl-*")
		if err == nil {
			err = os.Chmod(d, 0o755)
		}
		if err != nil {
			standInErr = err
			return
		}
		standInDir = d
		standInPath = filepath.Join(d, "repctl")
		standInErr = os.WriteFile(standInPath, b, 0o755)
	})
	if standInErr != nil {
		t.Fatal(standInErr)
	}
	return standInPath
}

var (
	standInOnce             sync.Once
	standInPath, standInDir string
	standInErr              error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if standInDir != "" {
		os.RemoveAll(standInDir)
	}
	os.Exit(code)
}

// exportDir makes a staging folder as the backup does: 0711 inside a 0755
// folder, with the export's own 0700 folder in it.
func exportDir(t *testing.T) string {
	stage := filepath.Join(ostest.AdminDir(t, "repl-test-*"), "stage")
	if err := os.Mkdir(stage, 0o711); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(stage, "AttunityBackup")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// logFile is a REPCTL_LOG every user may append to.
func logFile(t *testing.T) string {
	p := filepath.Join(ostest.AdminDir(t, "repl-test-*"), "calls.log")
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	return p
}

func testUser(t *testing.T) string {
	if os.Geteuid() != 0 {
		return ""
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	return "nobody"
}

func TestTool_Export(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // exact message; "" = success
	}{
		{"success", nil, ""},
		{"failing exit", map[string]string{"REPCTL_FAIL": "1"},
			"An error occurred while executing system command: {repctl} exportrepository json_file={file}. Error: [repctl] error: license expired (stand-in failure)"},
		{"missing output", map[string]string{"REPCTL_NO_OUTPUT": "1"}, "File {file} does not exist."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := logFile(t)
			env := map[string]string{"REPCTL_LOG": log}
			for k, v := range tt.env {
				env[k] = v
			}
			file := filepath.Join(exportDir(t), "Replication_Definition.json")
			u := testUser(t)
			tool := Tool{Argv: []string{standIn(t), "exportrepository", "json_file={file}"}, User: u, Env: env}
			err := tool.Export(context.Background(), file)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(file); !strings.Contains(string(b), "tasks") {
					t.Errorf("export file content %q", b)
				}
				calls, _ := os.ReadFile(log)
				want := "exportrepository " + file + " " + tool.RunsAs()
				if !strings.HasPrefix(string(calls), want) {
					t.Errorf("calls = %q, want %q", calls, want)
				}
				return
			}
			want := strings.NewReplacer("{repctl}", standIn(t), "{file}", file).Replace(tt.wantErr)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
			if _, ok := err.(*msg.Error); !ok {
				t.Errorf("err is %T, want *msg.Error", err)
			}
		})
	}
}

// The command gets only the allowlisted environment (SPEC section 3) and
// replication.env, whatever ours holds: never a database password.
func TestTool_ExportEnvironment(t *testing.T) {
	t.Setenv("PGPASSWORD", "pg-secret-1")
	t.Setenv("HUBBLE_DATABASE_DSN", "postgres://hubble:dsn-secret-2@db/hubble")
	t.Setenv("UNRELATED_VAR", "x")
	t.Setenv("LC_ALL", "C.UTF-8")
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("TZ", "UTC")
	file := filepath.Join(exportDir(t), "Replication_Definition.json")
	tool := Tool{Argv: []string{standIn(t), "exportrepository", "json_file={file}"}, User: testUser(t),
		Env: map[string]string{"REPCTL_DATA": "/opt/data"}}
	if err := tool.Export(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	var got struct {
		UID         int      `json:"ran_as_uid"`
		Environment []string `json:"environment"`
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	want := []string{"HOME", "LANG", "LC_ALL", "LOGNAME", "PATH", "PWD", "REPCTL_DATA", "TZ", "USER"} // PWD: the shell's own
	if !slices.Equal(got.Environment, want) {
		t.Errorf("environment names %v, want %v", got.Environment, want)
	}
	if u := testUser(t); u != "" {
		acct, _ := user.Lookup(u)
		if strconv.Itoa(got.UID) != acct.Uid {
			t.Errorf("ran as uid %d, want %s (%s)", got.UID, acct.Uid, u)
		}
	}
}

// Running as root with a replication user, the export's folder must be
// reachable by that user: a folder above that is closed to it is named.
func TestTool_ExportUnreachable(t *testing.T) {
	u := testUser(t)
	if u == "" {
		t.Fatal("this test switches users and must run as root (as CI does)")
	}
	dir := exportDir(t)
	closed := filepath.Dir(filepath.Dir(dir))
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	tool := Tool{Argv: []string{standIn(t), "exportrepository", "json_file={file}"}, User: u}
	err := tool.Export(context.Background(), filepath.Join(dir, "x.json"))
	if err == nil || !strings.Contains(err.Error(), "cannot reach "+dir+": "+closed+" is -rwx------") {
		t.Fatalf("err = %v, want one naming %s", err, closed)
	}
}

func TestTool_Import(t *testing.T) {
	log := logFile(t)
	dir := exportDir(t)
	file := filepath.Join(dir, "Replication_Definition.json")
	tool := Tool{Argv: []string{standIn(t), "importrepository", "json_file={file}"}, User: testUser(t),
		Env: map[string]string{"REPCTL_LOG": log}}
	if err := tool.Import(context.Background(), file); err == nil || err.Error() != "File "+file+" does not exist." {
		t.Fatalf("missing file: err = %v", err)
	}
	os.WriteFile(file, []byte("{}"), 0o600)
	if err := tool.Import(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(log)
	if !strings.HasPrefix(string(calls), "importrepository "+file+" "+tool.RunsAs()) {
		t.Errorf("calls = %q", calls)
	}
}

func TestTool_Canceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tool := Tool{Argv: []string{standIn(t), "exportrepository", "json_file={file}"},
		Env: map[string]string{"REPCTL_SLEEP": "30"}}
	if err := tool.Export(ctx, filepath.Join(exportDir(t), "x.json")); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestTool_Warning(t *testing.T) {
	if got := (Tool{}).Warning(); got != "" {
		t.Errorf("no user: warning %q", got)
	}
	got := Tool{User: "attunity"}.Warning()
	if os.Geteuid() == 0 && got != "" {
		t.Errorf("as root: warning %q", got)
	}
	if os.Geteuid() != 0 && !strings.Contains(got, `replication.user "attunity" is not used`) {
		t.Errorf("not root: warning %q", got)
	}
}

func TestEnviron(t *testing.T) {
	ours := []string{"PATH=/bin", "PGPASSWORD=x", "HUBBLE_DATABASE_DSN=postgres://a:b@c/d", "LANG=C", "LC_TIME=C",
		"TZ=UTC", "HOME=/root", "USER=root", "SSH_AUTH_SOCK=/x"}
	acct := &account{name: "attunity", home: "/home/attunity"}
	got := environ(ours, acct, map[string]string{"PATH": "/opt/bin:/bin", "B": "2", "A": "1"})
	want := []string{"PATH=/bin", "LANG=C", "LC_TIME=C", "TZ=UTC", "HOME=/home/attunity", "USER=attunity",
		"LOGNAME=attunity", "A=1", "B=2", "PATH=/opt/bin:/bin"}
	if !slices.Equal(got, want) {
		t.Errorf("environ =\n%q\nwant\n%q", got, want)
	}
	if got := environ(nil, &account{name: "x"}, nil); !slices.Contains(got, "PATH="+defaultPath) || !slices.Contains(got, "HOME=/") {
		t.Errorf("environ without PATH or home = %q", got)
	}
}
