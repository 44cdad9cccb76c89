package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/seed"
)

// uiGet fetches a path from the dev server's Web UI.
func uiGet(t *testing.T, path string) []byte {
	t.Helper()
	response, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", uiPort, path))
	require.NoError(t, err, "GET %s", path)
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, response.StatusCode, "GET %s: %s", path, body)
	return body
}

// The Web UI renders histories from its own HTTP API; this test reads the
// same API a browser does, so a history that shows there shows in the UI.
func TestWebUIServesStartupHistory(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	userID := s.seedUser(t)
	token := s.issueToken(t, userID, seed.TokenSpec{ExpiresIn: seed.Days(3)})
	daemonID := "webui-laptop"

	_, err := daemonclient.StartDaemon(ctx, s.client, s.cfg.Temporal.TaskQueue,
		daemonauth.DaemonStartupInput{DaemonID: daemonID, TokenID: token.ID})
	require.NoError(t, err)

	page := uiGet(t, "/")
	assert.Contains(t, string(page), "<html", "the Web UI serves its page")

	var history struct {
		History struct {
			Events []struct {
				EventType    string `json:"eventType"`
				UserMetadata struct {
					Summary struct {
						Data string `json:"data"`
					} `json:"summary"`
				} `json:"userMetadata"`
				Scheduled *struct {
					ActivityType struct {
						Name string `json:"name"`
					} `json:"activityType"`
				} `json:"activityTaskScheduledEventAttributes"`
			} `json:"events"`
		} `json:"history"`
	}
	body := uiGet(t, "/api/v1/namespaces/default/workflows/"+daemonauth.StartupWorkflowID(daemonID)+"/history")
	require.NoError(t, json.Unmarshal(body, &history), "decode the history the UI serves")

	var activities []string
	var summaries []string
	for _, event := range history.History.Events {
		if event.Scheduled != nil {
			activities = append(activities, event.Scheduled.ActivityType.Name)
			summaries = append(summaries, event.UserMetadata.Summary.Data)
		}
	}
	assert.Equal(t,
		[]string{daemonauth.ActivityRenewToken, daemonauth.ActivitySyncWorkspaces, daemonauth.ActivityEnsureTokenRenewal},
		activities, "the UI shows RenewToken before SyncWorkspaces")
	require.Len(t, summaries, 3)
	firstSummary, err := base64.StdEncoding.DecodeString(summaries[0])
	require.NoError(t, err, "summaries are JSON payloads in base64")
	assert.Equal(t, fmt.Sprintf("%q", "renew token "+daemonauth.ShortID(token.ID)+"… for daemon "+daemonID), string(firstSummary),
		"the UI shows which token and daemon the renewal is for")
	for i, summary := range summaries {
		assert.NotEmpty(t, summary, "activity %s has a summary for the UI", activities[i])
	}
	assert.NotContains(t, string(body), token.Raw, "the UI never shows the raw token")

	list := uiGet(t, "/api/v1/namespaces/default/workflows?query="+
		"WorkflowId%3D%27"+daemonauth.RenewalWorkflowID(daemonID)+"%27")
	assert.Contains(t, string(list), daemonauth.WorkflowTokenRenewal, "the UI lists the daemon's TokenRenewal")

	_, err = daemonclient.StopRenewal(ctx, s.client, daemonID, "")
	require.NoError(t, err)
}
