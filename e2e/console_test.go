package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestConsole_Browser drives the web console in headless Chromium against
// the real service and PostgreSQL, with access control on: the browser
// signs in; "Back up now" and "Yes" create a job seen moving to Success; its
// log lines show; the archive is listed, verifies intact and downloads
// byte-identical; the page works by keyboard, names every control, and fits
// a phone; Cancel stops a slow job; a failing pre-flight shows its exact
// message; another site cannot make the signed-in browser start a job.
// Each view is saved as a screenshot in the test's artifact directory (go
// test -artifacts keeps them; scripts/test.sh does).
func TestConsole_Browser(t *testing.T) {
	e := newEnv(t, options{extra: authYAML(t) + `schedule:
  - {cron: "0 2 * * *", timezone: UTC}
retention: {keep_last: 14, keep_days: 30}
notify: {stale_after: 36h}
`})
	b := newBrowser(t, "admin", adminPassword)
	e.setReplEnv(t, map[string]string{"REPCTL_SLEEP": "3"})
	s := e.start(t)
	s.curlArgs = []string{"-u", "admin:" + adminPassword}

	// Sign in and see the overview.
	b.do("open the console", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.ID("backup-now")))
	if b.logins.Load() == 0 {
		t.Error("the browser was never asked to sign in")
	}
	b.waitText("#who", 10*time.Second, func(s string) bool { return s == "Signed in as admin · not encrypted (no tls)" })
	b.waitText("#f-space", 10*time.Second, func(s string) bool { return strings.Contains(s, "temp_dir") && strings.Contains(s, "free") })
	for css, want := range map[string]string{
		"#f-stale": "not raised (after 36h)", "#f-schedule": "0 2 * * * (UTC)",
		"#f-retention": "keep the last 14, keep 30 days", "#f-last": "never",
	} {
		if got := b.text(css); got != want {
			t.Errorf("%s shows %q, want %q", css, got, want)
		}
	}
	if got := b.text("#f-next"); !strings.Contains(got, "02:00:00") {
		t.Errorf("next run shows %q", got)
	}
	if bad := b.unnamed(); len(bad) > 0 {
		t.Errorf("controls without an accessible name: %v", bad)
	}
	keyboard(t, b)
	b.shot("01-overview")

	// Back up now, Yes: the answer is the API's, the job moves to Success.
	b.do("Back up now", chromedp.Click(chromedp.ID("backup-now")), chromedp.WaitVisible(chromedp.ID("confirm-yes")))
	b.shotViewport("02-confirm-backup")
	b.do("Yes", chromedp.Click(chromedp.ID("confirm-yes")), chromedp.WaitVisible(chromedp.ID("confirm-close")))
	id := b.text(`#confirm-result dd[data-field="Id"]`)
	if !idRE.MatchString(id) || b.text(`#confirm-result dd[data-field="Status"]`) != "Queued" ||
		b.text(`#confirm-result dd[data-field="Message"]`) != "Job was queued for execution." {
		t.Fatalf("the dialog shows %q", b.text("#confirm-result"))
	}
	b.shotViewport("03-backup-answer")
	b.do("Close", chromedp.Click(chromedp.ID("confirm-close")))
	seen := statusesUntil(t, b, id, "Success", 90*time.Second)
	if !slices.Contains(seen, "Executing") {
		t.Errorf("statuses seen in the list %v, want Executing before Success", seen)
	}
	rec := s.record(t, id)
	if rec.Status != "Success" {
		t.Fatalf("job %s is %s", id, rec.Status)
	}

	// The job view, with its log lines.
	b.do("open the job", chromedp.Click(chromedp.CSS(`tr[data-key="`+id+`"] a`)), chromedp.WaitVisible(chromedp.ID("job-log")))
	b.waitText("#job-log tbody", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "backup started") && strings.Contains(s, "backup finished")
	})
	if got := b.text("#job-facts"); !strings.Contains(got, "Started by") || !strings.Contains(got, "admin") {
		t.Errorf("job facts %q lack who started it", got)
	}
	b.shot("04-job")

	// The archives: listed, verified on demand, downloaded byte-identical.
	name := filepath.Base(rec.Archive)
	row := `#archives tr[data-key="` + name + `"]`
	b.do("open the archives", chromedp.Click(chromedp.ID("nav-archives")), chromedp.WaitVisible(chromedp.CSS(row)))
	b.do("verify", chromedp.Click(chromedp.CSS(row+" button")))
	b.waitText(row+" output", 60*time.Second, func(s string) bool { return strings.HasPrefix(s, "Intact: ") })
	b.shot("05-archives")
	got, err := os.ReadFile(b.download(row + " a"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(rec.Archive)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("downloaded %d bytes that differ from the archive's %d", len(got), len(want))
	}

	// A phone.
	b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(s.base+"/#/"), chromedp.WaitVisible(chromedp.CSS(`tr[data-key="`+id+`"]`)))
	if overflow := evalIn[bool](b, `document.documentElement.scrollWidth > document.documentElement.clientWidth`); overflow {
		t.Error("the overview is wider than a phone's screen")
	}
	b.shot("06-phone")
	b.do("laptop", chromedp.EmulateViewport(1280, 900))

	// Cancel stops a slow job.
	s.stop(t, time.Minute)
	e.setReplEnv(t, map[string]string{"REPCTL_SLEEP": "60"})
	s = e.start(t)
	s.curlArgs = []string{"-u", "admin:" + adminPassword}
	slow := s.execute(t)
	s.waitPhase(t, slow.ID, "replication", 30*time.Second)
	cancelBtn := `tr[data-key="` + slow.ID + `"] button`
	b.do("reopen the console", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS(cancelBtn)))
	b.do("Cancel", chromedp.Click(chromedp.CSS(cancelBtn)), chromedp.WaitVisible(chromedp.ID("confirm-yes")))
	b.shotViewport("07-cancel-confirm")
	start := time.Now()
	b.do("Yes", chromedp.Click(chromedp.ID("confirm-yes")), chromedp.WaitVisible(chromedp.ID("confirm-close")))
	if st, msg := b.text(`#confirm-result dd[data-field="Status"]`), b.text(`#confirm-result dd[data-field="Message"]`); st != "Canceled" || msg != "Job was canceled." {
		t.Errorf("the cancel answer shows %q %q", st, msg)
	}
	t.Logf("canceled from the console in %v", time.Since(start).Round(time.Millisecond))
	b.shotViewport("08-canceled")
	b.do("Close", chromedp.Click(chromedp.ID("confirm-close")))
	statusesUntil(t, b, slow.ID, "Canceled", 20*time.Second)
	assertEmpty(t, e.tempDir)
	b.waitText("#f-last", 10*time.Second, func(s string) bool { return strings.HasSuffix(s, " ago)") })
	b.shot("11-overview-with-jobs") // the README's picture (docs/console.png)

	// A failing pre-flight shows its exact message; the stale alarm, set
	// to a few seconds, is raised.
	s.stop(t, time.Minute)
	missing := filepath.Join(t.TempDir(), "not-mounted")
	s = e.start(t, "HUBBLE_BACKUP_DIR="+missing, "HUBBLE_NOTIFY_STALE_AFTER=2s")
	b.do("reopen the console", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.ID("stale")))
	if got := b.text("#stale"); !strings.HasPrefix(got, "Stale alarm: no backup has succeeded for more than 2s") {
		t.Errorf("stale banner %q", got)
	}
	if got := b.text("#f-space"); !strings.Contains(got, "backup_dir "+missing+"cannot be read: no such file or directory") {
		t.Errorf("free space of a missing backup_dir shows %q", got)
	}
	b.do("Back up now", chromedp.Click(chromedp.ID("backup-now")), chromedp.WaitVisible(chromedp.ID("confirm-yes")))
	b.do("Yes", chromedp.Click(chromedp.ID("confirm-yes")), chromedp.WaitVisible(chromedp.ID("confirm-close")))
	if st, msg := b.text(`#confirm-result dd[data-field="Status"]`), b.text(`#confirm-result dd[data-field="Message"]`); st != "Error" ||
		msg != fmt.Sprintf("Directory '%s' does not exist.", missing) {
		t.Errorf("the pre-flight failure shows %q %q", st, msg)
	}
	b.shotViewport("09-preflight-error")
	b.do("Close", chromedp.Click(chromedp.ID("confirm-close")))

	crossSite(t, b, s)
}

// keyboard: the skip link comes first; "Back up now" opens the dialog by
// keyboard with the focus on "No"; Escape closes it and gives the focus back.
func keyboard(t *testing.T, b *browserTab) {
	t.Helper()
	b.do("Tab", chromedp.KeyEvent(kb.Tab))
	if got := evalIn[string](b, `document.activeElement.textContent`); got != "Skip to content" {
		t.Errorf("first Tab stop %q, want the skip link", got)
	}
	b.do("Enter on Back up now", chromedp.Focus(chromedp.ID("backup-now")), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("confirm-no")))
	if got := evalIn[string](b, `document.activeElement.id`); got != "confirm-no" {
		t.Errorf("the dialog opened with the focus on %q, want confirm-no", got)
	}
	b.do("Escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("confirm")))
	if got := evalIn[string](b, `document.activeElement.id`); got != "backup-now" {
		t.Errorf("after Escape the focus is on %q, want backup-now", got)
	}
}

// statusesUntil watches the job's status in the console's list until it is
// want, and returns the statuses seen, each once.
func statusesUntil(t *testing.T, b *browserTab, id, want string, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	var seen []string
	for {
		st := b.text(`#jobs tr[data-key="` + id + `"] .badge`)
		if st != "" && (len(seen) == 0 || seen[len(seen)-1] != st) {
			seen = append(seen, st)
		}
		if st == want {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s shows %q after %v, want %s; seen %v", id, st, within, want, seen)
		}
		time.Sleep(pollInterval)
	}
}

// crossSite: a page of another site (localhost, the service being
// 127.0.0.1) posts a form to Execute in the signed-in browser; the service
// refuses it and no job is added.
func crossSite(t *testing.T, b *browserTab, s *service) {
	t.Helper()
	count := func() int {
		return strings.Count(string(curl(t, s.req(s.base+"/api/Backup/Jobs")...).body), `"id":`)
	}
	before := count()
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<!doctype html><title>prize</title><form id="f" method="POST" action="`+s.base+
			`/api/Backup/Execute"></form><script>document.getElementById("f").submit()</script>`)
	}))
	defer evil.Close()
	site := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	b.do("visit another site", chromedp.Navigate(site))
	body := b.waitText("body", 20*time.Second, func(s string) bool { return strings.Contains(s, "Status") })
	if !strings.Contains(body, "Cross-site request refused") {
		t.Errorf("the forged request got %q", body)
	}
	b.shot("10-cross-site-refused")
	if after := count(); after != before {
		t.Errorf("the forged request added %d jobs", after-before)
	}
}
