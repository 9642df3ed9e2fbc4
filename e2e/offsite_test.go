package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/hubble/hubble-applianceapi/internal/pgtest"
	"github.com/hubble/hubble-applianceapi/internal/s3test"
)

// run runs the binary with args and returns its stdout, stderr and exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestCLI_OffsiteEncryptedDrill drives the command forms of SPEC section 9
// as an operator would: a foreground backup encrypted at rest and copied to a
// bucket (SeaweedFS), `list --target`, `verify s3://...` with and without
// --identity, and `drill --target` (exit 0 passed, 1 refused).
func TestCLI_OffsiteEncryptedDrill(t *testing.T) {
	s, bucket := s3test.NewBucket(t)
	secret := filepath.Join(t.TempDir(), "s3.secret")
	os.WriteFile(secret, []byte(s.SecretKey), 0o600)
	id, _ := age.GenerateX25519Identity()
	key := filepath.Join(t.TempDir(), "hubble-backup.key")
	os.WriteFile(key, []byte(id.String()+"\n"), 0o600)
	scratch := pgtest.NewDB(t)
	if err := pgtest.CreateERP(context.Background(), scratch); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, options{extra: fmt.Sprintf(`storage:
  targets:
    - name: offsite
      type: s3
      endpoint: "http://%s"
      bucket: %s
      prefix: "appliance-01/"
      access_key_id: %s
      secret_access_key_file: %s
      path_style: true
      retention: {keep_last: 3}
encryption:
  age_recipients: [%q]
drill:
  dsn: %q
`, s.Endpoint, bucket, s.AccessKey, secret, id.Recipient().String(), scratch)})

	out, errOut, code := run(t, "backup", "--config", e.configPath)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	local := lines[len(lines)-1]
	if code != 0 || !strings.HasSuffix(local, ".tar.gz.age") {
		t.Fatalf("backup: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	name := filepath.Base(local)
	loc := "s3://" + bucket + "/appliance-01/" + name

	out, errOut, code = run(t, "list", "--config", e.configPath, "--target", "offsite")
	if code != 0 || !strings.Contains(out, name) || !strings.Contains(out, loc) {
		t.Errorf("list --target: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = run(t, "verify", loc, "--config", e.configPath)
	if code != 1 || !strings.Contains(errOut, "--identity") {
		t.Errorf("verify without identity: exit %d, stderr %s", code, errOut)
	}
	out, errOut, code = run(t, "verify", loc, "--config", e.configPath, "--identity", key)
	if code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("verify s3:// --identity: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "verify", local, "--identity", key)
	if code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("verify of the local encrypted archive without a config: exit %d\n%s%s", code, out, errOut)
	}

	_, errOut, code = run(t, "drill", "--config", e.configPath, "--target", "offsite")
	if code != 1 || !strings.Contains(errOut, "encrypted") {
		t.Errorf("drill without identity: exit %d, stderr %s", code, errOut)
	}
	out, errOut, code = run(t, "drill", "--config", e.configPath, "--target", "offsite", "--identity", key)
	if code != 0 || !strings.HasPrefix(out, "Drill passed: "+loc) {
		t.Errorf("drill: exit %d\n%s%s", code, out, errOut)
	}
}
