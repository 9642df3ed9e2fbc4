package daemon_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/hubble/hubble-applianceapi/internal/archive"
	"github.com/hubble/hubble-applianceapi/internal/daemon"
	"github.com/hubble/hubble-applianceapi/internal/drill"
	"github.com/hubble/hubble-applianceapi/internal/pgtest"
)

// alterDataFile rewrites a .tar.gz with one byte of one data file changed
// (the manifest untouched), as bit rot or tampering after upload would.
func alterDataFile(t *testing.T, in []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	altered := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		base := path.Base(h.Name)
		if altered == "" && path.Dir(h.Name) == archive.DirDatabase && h.Size > 10 &&
			base != "copy.in" && base != "copy.out" && base != "schema.dump" {
			i := bytes.IndexAny(data, "0123456789")
			if i >= 0 {
				data[i] = '0' + (data[i]-'0'+1)%10
				altered = h.Name
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	if altered == "" {
		t.Fatal("no data file to alter")
	}
	t.Logf("altered %s", altered)
	return out.Bytes()
}

// drillSchemas lists the scratch schemas left in the scratch database.
func drillSchemas(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", drill.SchemaPrefix)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDrill_Scheduled: a scheduled drill (trigger drill) of the newest
// archive in the bucket passes and drops what it created; after a data
// file of that archive was altered in the bucket, the next drill fails,
// fires the drill.failed webhook and sets the metric; drills never take a
// backup's slot.
func TestDrill_Scheduled(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	b := newBucket(t)
	scratch := pgtest.NewDB(t)
	if err := pgtest.CreateERP(ctx, scratch); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t)
	cfg := e.config(t, fmt.Sprintf(`max_queued_jobs: 0
storage:
  targets:
%sdrill:
  dsn: "%s"
  target: offsite
  schedule: [{cron: "0 0 1 1 *"}]
notify:
  webhook_url: %s/hook
`, b.target("offsite", ""), scratch, rc.srv.URL))
	r := serve(t, cfg, nil)
	job := r.execute(t)
	if s := r.waitFinal(t, job.Id, 2*time.Minute); s.Status != "Success" {
		t.Fatalf("backup: %+v", s)
	}

	// What a drill killed two days ago left, and what one running now has.
	stale := drill.SchemaPrefix + time.Now().UTC().Add(-48*time.Hour).Format("20060102_150405") + "_dead01"
	live := drill.SchemaPrefix + time.Now().UTC().Format("20060102_150405") + "_live01"
	if err := pgtest.Exec(ctx, scratch, "CREATE SCHEMA "+stale+"; CREATE TABLE "+stale+".t (i int); CREATE SCHEMA "+live); err != nil {
		t.Fatal(err)
	}
	dj, err := r.d.RunDrillNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The drill runs beside backups: a backup started now is not refused.
	if s := r.execute(t); s.Status == "LimitReached" {
		t.Errorf("a backup submitted during a drill was refused: %+v", s)
	}
	s := r.waitFinal(t, dj.ID, 3*time.Minute)
	if s.Status != "Success" || !strings.HasPrefix(s.Message, "Drill passed: s3://"+b.bucket+"/appliance-01/") {
		t.Fatalf("drill: %+v", s)
	}
	for _, j := range r.jobs(t) {
		if j.ID == dj.ID && (j.Trigger != "drill" || j.StartedAt == nil || j.FinishedAt == nil) {
			t.Errorf("drill job record: %+v", j)
		}
	}
	if left := drillSchemas(t, scratch); len(left) != 1 || left[0] != live {
		t.Errorf("scratch schemas after the drill: %v, want only the running drill's %s", left, live)
	}
	if err := pgtest.Exec(ctx, scratch, "DROP SCHEMA "+live); err != nil {
		t.Fatal(err)
	}
	if v := r.metric(t, "hubble_backup_last_drill_success"); v != "1" {
		t.Errorf("last_drill_success = %s", v)
	}

	// Wait for the backup started during the drill, so that the newest
	// archive is known, then damage it in the bucket.
	for _, j := range r.jobs(t) {
		if j.Trigger == "api" {
			r.waitFinal(t, j.ID, 2*time.Minute)
		}
	}
	c, _ := b.srv.Client()
	var newest string
	for k := range b.objects(t) {
		if k > newest {
			newest = k
		}
	}
	o, err := c.GetObject(ctx, b.bucket, newest, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(o)
	o.Close()
	bad := alterDataFile(t, raw)
	if _, err := c.PutObject(ctx, b.bucket, newest, bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for len(rc.events) > 0 {
		<-rc.events
	}
	dj, err = r.d.RunDrillNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s = r.waitFinal(t, dj.ID, 3*time.Minute)
	if s.Status != "Error" || !strings.Contains(s.Message, "drill of s3://"+b.bucket+"/"+newest+" failed") || !strings.Contains(s.Message, "sha256") {
		t.Fatalf("drill of the altered archive: %+v", s)
	}
	ev := rc.next(t, 10*time.Second)
	if ev.Event != "drill.failed" || ev.ID != dj.ID || ev.Trigger != "drill" || ev.Message != s.Message {
		t.Errorf("webhook event %+v", ev)
	}
	if v := r.metric(t, "hubble_backup_last_drill_success"); v != "0" {
		t.Errorf("last_drill_success = %s after a failed drill", v)
	}
	if left := drillSchemas(t, scratch); len(left) != 0 {
		t.Errorf("scratch schemas left after the failed drill: %v", left)
	}
}

// TestDrill_RefusesSourceDatabase: drill.dsn naming the source database is
// refused at start-up however it is spelled (same host, port and database
// in another form), and, whatever the DSNs say, a drill never runs where
// the server reports the source's own system identifier and database.
func TestDrill_RefusesSourceDatabase(t *testing.T) {
	e := newEnv(t)
	u, err := url.Parse(e.DSN)
	if err != nil {
		t.Fatalf("test DSN %q is not a URL: %v", e.DSN, err)
	}
	// The same database as key=value parameters.
	kv := fmt.Sprintf("host=%s port=%s dbname=%s user=%s sslmode=disable", u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"), u.User.Username())
	cfg := e.config(t, "drill:\n  dsn: \""+kv+"\"\n")
	if _, err := daemon.NewDrill(cfg, nil); !errors.Is(err, drill.ErrSourceDatabase) {
		t.Errorf("NewDrill with the source database in another form = %v", err)
	}
	// Through the server's identity.
	eng := mustEngine(t, e.DSN)
	d := &drill.Drill{Scratch: eng, SourceID: mustEngine(t, kv).DatabaseID, TempDir: t.TempDir()}
	if _, err := d.Run(context.Background(), nil, "x"); !errors.Is(err, drill.ErrSourceDatabase) {
		t.Errorf("Run on the source database = %v", err)
	}
}
