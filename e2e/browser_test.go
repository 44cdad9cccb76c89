package e2e_test

import (
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/seed"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

var (
	chromiumOnce sync.Once
	chromiumErr  error
)

// ensureChromium installs Debian's chromium package when chromiumPath is
// missing, once per test binary. It never downloads a browser build of its
// own; without root or without the package archive it fails the test with
// the command to run.
func ensureChromium(t *testing.T) {
	t.Helper()
	chromiumOnce.Do(func() {
		if _, err := os.Stat(chromiumPath); err == nil {
			return
		}
		if os.Geteuid() != 0 {
			chromiumErr = fmt.Errorf("%s is missing and installing it needs root: run `sudo apt-get install chromium`", chromiumPath)
			return
		}
		install := func() ([]byte, error) {
			cmd := exec.Command("apt-get", "install", "-y", "--no-install-recommends", "chromium")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			return cmd.CombinedOutput()
		}
		output, err := install()
		if err != nil {
			// The package lists may be missing or stale on a new machine.
			if updateOutput, updateErr := exec.Command("apt-get", "update").CombinedOutput(); updateErr != nil {
				chromiumErr = fmt.Errorf("apt-get update failed: %w\n%s", updateErr, updateOutput)
				return
			}
			output, err = install()
		}
		if err != nil {
			chromiumErr = fmt.Errorf("apt-get install chromium failed: %w\n%s", err, output)
		}
	})
	if chromiumErr != nil {
		t.Fatalf("the Web UI tests need Debian's chromium package: %v", chromiumErr)
	}
}

// newBrowser starts a headless Chromium with a fresh profile that the test
// removes, and returns a tab context. Every host except localhost and
// 127.0.0.1 fails to resolve, IP addresses included, so the page can reach
// only the loopback servers of the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	ensureChromium(t)
	options := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1700),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
	)
	allocatorCtx, cancelAllocator := chromedp.NewExecAllocator(context.Background(), options...)
	t.Cleanup(cancelAllocator)
	browserCtx, cancelBrowser := chromedp.NewContext(allocatorCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	ctx, cancel := context.WithTimeout(browserCtx, 2*time.Minute)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

// saveScreenshot takes a screenshot of the whole page and writes it as a
// PNG file in the test's artifact folder. `go test -artifacts -outputdir DIR`
// keeps that folder under DIR/_artifacts; without -artifacts it is removed
// when the test ends.
func saveScreenshot(t *testing.T, browser context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	require.NoError(t, err, "take a screenshot")
	path := filepath.Join(t.ArtifactDir(), name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
	return path
}

// historyRow is one row of the Web UI's event history table.
type historyRow struct {
	EventID int    `json:"eventId"`
	Text    string `json:"text"`
}

// readHistoryRows returns the rows of the event history table as the page
// shows them.
const readHistoryRows = `Array.from(document.querySelectorAll('[data-testid="event-summary-row"]'))
	.map(row => ({eventId: Number(row.dataset.eventid), text: row.innerText}))`

// scheduledActivity returns the row that schedules activityType, failing
// the test when there is none.
func scheduledActivity(t *testing.T, rows []historyRow, activityType string) historyRow {
	t.Helper()
	for _, row := range rows {
		if strings.Contains(row.Text, "Activity Task Scheduled") && strings.Contains(row.Text, activityType) {
			return row
		}
	}
	t.Fatalf("the event history shows no Activity Task Scheduled for %s; rows:\n%v", activityType, rows)
	return historyRow{}
}

func TestWebUIShowsStartupHistoryInBrowser(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(3)})
	daemonID := "browser-laptop"
	_, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: token.ID})
	require.NoError(t, err)
	t.Cleanup(func() { daemonclient.StopRenewal(context.Background(), s.client, daemonID, "") })
	browser := newBrowser(t)

	url := fmt.Sprintf("http://127.0.0.1:%d/namespaces/default/workflows/%s", uiPort, daemonauth.StartupWorkflowID(daemonID))
	// The page loads the history after the page itself; the last activity
	// scheduled is EnsureTokenRenewal.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="event-summary-row"]`)),
	), "open %s", url)
	_, err = chromedp.Run(browser, chromedp.Poll[bool](
		`document.body.innerText.includes("EnsureTokenRenewal")`, chromedp.WithPollingTimeout(30*time.Second)))
	require.NoError(t, err, "the page shows the whole event history within 30 s")
	// Oldest event first, as the history happened.
	_, err = chromedp.Run(browser, chromedp.Evaluate[bool](
		`(() => { const b = [...document.querySelectorAll("button")].find(b => b.innerText.trim() === "Descending"); if (b) b.click(); return !!b; })()`))
	require.NoError(t, err, "sort the event history oldest first")
	_, err = chromedp.Run(browser, chromedp.Poll[bool](
		`document.querySelector('[data-testid="event-summary-row"]').dataset.eventid === "1"`,
		chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "the event history is sorted oldest first")

	rows, err := chromedp.Run(browser, chromedp.Evaluate[[]historyRow](readHistoryRows))
	require.NoError(t, err)
	saveScreenshot(t, browser, "daemon-startup-history.png")

	renew := scheduledActivity(t, rows, daemonauth.ActivityRenewToken)
	sync := scheduledActivity(t, rows, daemonauth.ActivitySyncWorkspaces)
	ensure := scheduledActivity(t, rows, daemonauth.ActivityEnsureTokenRenewal)
	assert.Less(t, renew.EventID, sync.EventID, "the page shows RenewToken scheduled before SyncWorkspaces")
	assert.Less(t, sync.EventID, ensure.EventID, "and SyncWorkspaces before EnsureTokenRenewal")
	assert.Contains(t, renew.Text, "renew token "+daemonauth.ShortID(token.ID)+"… for daemon "+daemonID,
		"the RenewToken row shows its summary")
	assert.Contains(t, sync.Text, "sync workspaces of daemon "+daemonID, "the SyncWorkspaces row shows its summary")

	page, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	assert.Contains(t, page, "Completed", "the page shows the start-up completed")
	assert.NotContains(t, page, token.Raw, "the page never shows the raw token")
}

func TestWebUIListsNeedsReloginInBrowser(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	userID := s.seedUser(t)
	revoked := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(30), Revoked: true})
	healthy := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(60)})
	revokedDaemon, healthyDaemon := "browser-revoked", "browser-healthy"
	_, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: revokedDaemon, TokenID: revoked.ID})
	require.Error(t, err, "a start-up with a revoked token fails")
	_, err = daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: healthyDaemon, TokenID: healthy.ID})
	require.NoError(t, err)
	for _, daemonID := range []string{revokedDaemon, healthyDaemon} {
		t.Cleanup(func() { daemonclient.StopRenewal(context.Background(), s.client, daemonID, "") })
	}
	browser := newBrowser(t)

	url := fmt.Sprintf("http://127.0.0.1:%d/namespaces/default/workflows?query=%s",
		uiPort, neturl.QueryEscape("NeedsRelogin = true"))
	require.NoError(t, chromedp.Do(browser, chromedp.Navigate(url)), "open %s", url)
	renewalID := daemonauth.RenewalWorkflowID(revokedDaemon)
	_, err = chromedp.Run(browser, chromedp.Poll[bool](
		fmt.Sprintf(`document.body.innerText.includes(%q)`, renewalID), chromedp.WithPollingTimeout(30*time.Second)))
	saveScreenshot(t, browser, "needs-relogin-list.png")
	require.NoError(t, err, "the list filtered by NeedsRelogin = true shows %s within 30 s", renewalID)

	page, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	assert.Contains(t, page, daemonauth.WorkflowTokenRenewal, "the list shows the workflow type")
	assert.NotContains(t, page, daemonauth.RenewalWorkflowID(healthyDaemon), "the filter leaves out a daemon that needs no login")
}
