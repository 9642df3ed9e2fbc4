package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's Chromium. It is a failure, never a skip, when it
// is missing: scripts/deps.sh installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is missing: `apt-get install chromium` (scripts/deps.sh does it)")
	return ""
}

// browserTab is one tab of a headless Chromium with a fresh profile. It
// answers HTTP authentication challenges with user and password, as a
// person would in the browser's sign-in dialog, and saves downloads in
// downloads.
type browserTab struct {
	t         *testing.T
	ctx       context.Context
	downloads string
	shots     string // the test's artifact directory
	logins    atomic.Int32
}

func newBrowser(t *testing.T, user, password string) *browserTab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browserTab{t: t, ctx: ctx, downloads: t.TempDir(), shots: t.ArtifactDir()}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser and the tab, then answer every paused request and
	// every authentication challenge.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	auths := chromedp.Events(ctx, fetch.AuthRequired)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	go func() {
		for ev, err := range auths {
			if err != nil {
				return
			}
			b.logins.Add(1)
			_, _ = chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{
				RequestID: ev.RequestID,
				AuthChallengeResponse: &fetch.AuthChallengeResponse{
					Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: user, Password: password,
				},
			})
		}
	}()
	yes := true
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.downloads, EventsEnabled: &yes,
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots go to %s", b.shots)
	return b
}

// do runs steps, failing the test with what was being done.
func (b *browserTab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func evalIn[T any](b *browserTab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the text content of the first element matching css ("" if none).
func (b *browserTab) text(css string) string {
	b.t.Helper()
	return evalIn[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, css))
}

// waitText polls until the element matching css has text satisfying ok.
func (b *browserTab) waitText(css string, within time.Duration, ok func(string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := b.text(css)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: text %q after %v", css, got, within)
		}
		time.Sleep(pollInterval)
	}
}

// shot saves a screenshot of the whole page as NAME.png in the artifacts.
func (b *browserTab) shot(name string) { b.saveShot(name, chromedp.FullScreenshot(100)) }

// shotViewport saves what the window shows (a modal dialog covers only that).
func (b *browserTab) shotViewport(name string) { b.saveShot(name, chromedp.CaptureScreenshot()) }

func (b *browserTab) saveShot(name string, capture chromedp.Action[[]byte]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, capture)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// download clicks the element matching css and returns the path of the
// file the browser saved.
func (b *browserTab) download(css string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	b.do("click "+css, chromedp.Click(chromedp.CSS(css)))
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("download: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(b.downloads, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			b.t.Fatalf("download canceled by the browser")
		}
	}
	b.t.Fatal("no download finished")
	return ""
}

// unnamed lists the controls, tables and landmarks of the page that a screen
// reader would announce without a name.
func (b *browserTab) unnamed() []string {
	b.t.Helper()
	tree, err := chromedp.Call(b.ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		b.t.Fatal(err)
	}
	needName := map[string]bool{"button": true, "link": true, "table": true, "textbox": true, "checkbox": true,
		"combobox": true, "navigation": true, "dialog": true, "progressbar": true, "meter": true, "region": true}
	var bad []string
	for _, n := range tree.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		role, name := axString(n.Role), axString(n.Name)
		if needName[role] && strings.TrimSpace(name) == "" {
			bad = append(bad, fmt.Sprintf("%s (node %s)", role, n.NodeID))
		}
	}
	return bad
}

func axString(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	_ = json.Unmarshal([]byte(v.Value), &s)
	return s
}
