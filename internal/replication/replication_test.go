package replication

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubble/hubble-applianceapi/internal/msg"
)

// standIn copies the repository's repctl stand-in to a directory every OS
// user can reach (the checkout may not be), once per test.
func standIn(t *testing.T) string {
	if p, ok := standInPath[t]; ok {
		return p
	}
	b, err := os.ReadFile("../../testdata/repctl")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(openDir(t), "repctl")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	standInPath[t] = p
	return p
}

var standInPath = map[*testing.T]string{}

// openDir makes a directory any OS user can enter and write, as the
// replication user must when we run as root.
func openDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "repl-test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
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
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := openDir(t)
			log := filepath.Join(dir, "calls.log")
			os.WriteFile(log, nil, 0o666)
			os.Chmod(log, 0o666)
			t.Setenv("REPCTL_LOG", log)
			stage := filepath.Join(dir, "AttunityBackup")
			os.Mkdir(stage, 0o700)
			file := filepath.Join(stage, "Replication_Definition.json")
			u := testUser(t)
			tool := Tool{Argv: []string{standIn(t), "exportrepository", "json_file={file}"}, User: u}
			err := tool.Export(context.Background(), file)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(file); !strings.Contains(string(b), "tasks") {
					t.Errorf("export file content %q", b)
				}
				calls, _ := os.ReadFile(log)
				want := "exportrepository " + file
				if u != "" {
					want += " " + u
				}
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

func TestTool_Import(t *testing.T) {
	dir := openDir(t)
	log := filepath.Join(dir, "calls.log")
	os.WriteFile(log, nil, 0o666)
	os.Chmod(log, 0o666)
	t.Setenv("REPCTL_LOG", log)
	file := filepath.Join(dir, "Replication_Definition.json")
	tool := Tool{Argv: []string{standIn(t), "importrepository", "json_file={file}"}, User: testUser(t)}
	if err := tool.Import(context.Background(), file); err == nil || err.Error() != "File "+file+" does not exist." {
		t.Fatalf("missing file: err = %v", err)
	}
	os.WriteFile(file, []byte("{}"), 0o600)
	if err := tool.Import(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(log)
	if !strings.HasPrefix(string(calls), "importrepository "+file) {
		t.Errorf("calls = %q", calls)
	}
}

func TestTool_Canceled(t *testing.T) {
	t.Setenv("REPCTL_SLEEP", "30")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := openDir(t)
	tool := Tool{Argv: []string{standIn(t), "exportrepository", "json_file={file}"}}
	if err := tool.Export(ctx, filepath.Join(dir, "x.json")); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
