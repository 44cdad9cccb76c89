//go:build reliability

package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"daemonauth"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/devenv"
	"daemonauth/internal/seed"
	"daemonauth/internal/testenv"
)

// rawTokenPattern matches any raw personal access token: "mul_" and the
// hex of 20 random bytes.
var rawTokenPattern = regexp.MustCompile(`mul_[0-9a-f]{40}`)

// secretNeedles are the strings that must appear nowhere outside the
// database: every raw token issued, its SHA-256 hash and the database
// password in every form it takes in a URL.
type secretNeedles struct {
	// names describes each needle for a failure message, which must not
	// show the secret itself.
	names  []string
	values []string
}

func (n *secretNeedles) add(name, value string) {
	n.names = append(n.names, name)
	n.values = append(n.values, value)
}

// secretScan counts what the scan read and every hit, by where it was.
type secretScan struct {
	needles secretNeedles
	hits    []string
	sources int
	bytes   int
}

func (s *secretScan) scan(source string, data []byte) {
	s.sources++
	s.bytes += len(data)
	for range rawTokenPattern.FindAll(data, -1) {
		s.hits = append(s.hits, "a raw token (mul_ and 40 hex) in "+source)
	}
	for i, needle := range s.needles.values {
		if count := bytes.Count(data, []byte(needle)); count > 0 {
			s.hits = append(s.hits, fmt.Sprintf("%s (%d×) in %s", s.needles.names[i], count, source))
		}
	}
}

// TestSecretsNeverLeave runs start-ups that renew, find a token not due or
// reject it, a renewal cycle, renew-now, a token switch and stops, all
// through the real worker and starter binaries with a database URL that
// holds a password. Then it exports every history on the dev server. It
// scans the histories, the search attributes, the worker's logs in text
// and JSON, the outputs of the starter and the temporal CLI, and the
// metrics, for any raw token, token hash or the password.
func TestSecretsNeverLeave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := server.Client()
	pool, _ := testenv.NewDatabase(t)
	role, password, databaseURL := createPasswordRole(t, ctx, pool)
	taskQueue := uniqueName("secrets")
	scan := &secretScan{}
	scan.needles.add("the database password", password)
	scan.needles.add("the database password, URL-encoded", url.PathEscape(password))
	scan.needles.add("the database password, query-encoded", url.QueryEscape(password))
	scan.needles.add("the random part of the database password", password[strings.LastIndex(password, "/")+1:])

	userID := seedUser(t, ctx, pool, "secrets@example.com")
	tokens := map[string]seed.Token{}
	for _, spec := range []seed.TokenSpec{
		{Name: "due", ExpiresIn: seed.Days(3)},
		{Name: "healthy", ExpiresIn: seed.Days(60)},
		{Name: "revoked", ExpiresIn: seed.Days(30), Revoked: true},
		{Name: "expired", ExpiresIn: seed.Days(-1)},
		{Name: "never"},
		{Name: "after-login", ExpiresIn: seed.Days(90)},
	} {
		spec.UserID = userID
		token, err := seed.IssueToken(ctx, pool, spec)
		require.NoError(t, err, "issue token %s", spec.Name)
		tokens[spec.Name] = token
		scan.needles.add("the raw token "+spec.Name, token.Raw)
		scan.needles.add("the hash of token "+spec.Name, seed.HashToken(token.Raw))
	}

	starter := buildStarterBinary(t)
	workerHasMetrics := workerServesMetrics(t)
	env := []string{
		"TEMPORAL_ADDRESS=" + server.FrontendHostPort(),
		"DAEMONAUTH_DATABASE_URL=" + databaseURL,
		"DAEMONAUTH_TEMPORAL_TASK_QUEUE=" + taskQueue,
	}
	// Renewals check their token every 2 seconds, so cycles run while the
	// test watches.
	workerEnv := append([]string{
		"DAEMONAUTH_RENEWAL_INTERVAL=2s",
		"DAEMONAUTH_RENEWAL_MIN_INTERVAL=1s",
		"DAEMONAUTH_RENEWAL_JITTER=0s",
		"DAEMONAUTH_LOG_LEVEL=debug",
	}, env...)
	run := func(format string, args ...string) commandRun {
		return runSecretsCommand(t, starter, append(env, "DAEMONAUTH_LOG_LEVEL=debug", "DAEMONAUTH_LOG_FORMAT="+format), args...)
	}
	var transcripts []commandRun
	daemons := map[string]string{
		"secrets-due-" + taskQueue:     "due",
		"secrets-healthy-" + taskQueue: "healthy",
		"secrets-revoked-" + taskQueue: "revoked",
		"secrets-expired-" + taskQueue: "expired",
		"secrets-never-" + taskQueue:   "never",
	}
	daemonOf := func(tokenName string) string {
		for daemonID, name := range daemons {
			if name == tokenName {
				return daemonID
			}
		}
		t.Fatalf("no daemon for token %s", tokenName)
		return ""
	}
	for daemonID := range daemons {
		t.Cleanup(func() { terminateRenewal(t, c, daemonID) })
	}

	// Phase 1: a worker logging JSON runs the start-ups.
	jsonWorker := startSecretsWorker(t, ctx, c, "json", taskQueue, workerEnv, workerHasMetrics)
	transcripts = append(transcripts,
		run("json", "migrate"),
		run("text", "register-search-attributes"),
		run("json", "start", "--daemon-id", daemonOf("due"), "--token-id", tokens["due"].ID, "--json"),
		run("text", "start", "--daemon-id", daemonOf("healthy"), "--token-id", tokens["healthy"].ID),
		run("text", "start", "--daemon-id", daemonOf("revoked"), "--token-id", tokens["revoked"].ID, "--profile", "work"),
		run("json", "start", "--daemon-id", daemonOf("expired"), "--token-id", tokens["expired"].ID, "--json"),
		run("json", "start", "--daemon-id", daemonOf("never"), "--token-id", tokens["never"].ID, "--json"),
		run("json", "status", "--daemon-id", daemonOf("due"), "--json"),
	)
	expectExit := map[string]int{"revoked": 1, "expired": 1}
	for _, transcript := range transcripts {
		want := 0
		for name, code := range expectExit {
			if strings.Contains(strings.Join(transcript.args, " "), tokens[name].ID) {
				want = code
			}
		}
		assert.Equal(t, want, transcript.exitCode, "exit status of starter %s\nstderr:\n%s", strings.Join(transcript.args, " "), transcript.stderr)
	}
	jsonMetrics := jsonWorker.metrics(t, ctx)
	jsonLog := jsonWorker.stop(t)

	// Phase 2: a worker logging text runs a renewal cycle that renews,
	// renew-now, a token switch after a new login, and the stops.
	textWorker := startSecretsWorker(t, ctx, c, "text", taskQueue, workerEnv, workerHasMetrics)
	_, err := pool.Exec(ctx, `UPDATE personal_access_token SET expires_at = now() + interval '2 days' WHERE id = $1`, tokens["healthy"].ID)
	require.NoError(t, err, "move the healthy token into the renewal window")
	require.Eventually(t, func() bool {
		status, err := daemonclient.RenewalStatus(ctx, c, daemonOf("healthy"))
		return err == nil && status.LastOutcome == daemonauth.OutcomeRenewed
	}, time.Minute, 200*time.Millisecond, "a renewal cycle renews the healthy token")

	renewNow := runSecretsCommand(t, cliBinary(t), nil, "workflow", "update", "execute", "--address", server.FrontendHostPort(),
		"--workflow-id", daemonauth.RenewalWorkflowID(daemonOf("due")), "--name", daemonauth.UpdateRenewNow, "--input", "{}")
	assert.Equal(t, 0, renewNow.exitCode, "renew-now through the temporal CLI\nstderr:\n%s", renewNow.stderr)
	transcripts = append(transcripts, renewNow,
		run("text", "status", "--daemon-id", daemonOf("healthy")),
		run("text", "start", "--daemon-id", daemonOf("due"), "--token-id", tokens["after-login"].ID),
	)
	require.Eventually(t, func() bool {
		status, err := daemonclient.RenewalStatus(ctx, c, daemonOf("due"))
		return err == nil && status.TokenID == tokens["after-login"].ID
	}, 30*time.Second, 100*time.Millisecond, "the renewal follows the token of the new login")
	for daemonID := range daemons {
		stop := run("json", "stop", "--daemon-id", daemonID, "--reason", "secrets test done", "--json")
		assert.Equal(t, 0, stop.exitCode, "starter stop %s\nstderr:\n%s", daemonID, stop.stderr)
		transcripts = append(transcripts, stop)
	}
	textMetrics := textWorker.metrics(t, ctx)
	textLog := textWorker.stop(t)

	assert.Contains(t, jsonLog, `"database":"postgres://`+role+`:xxxxx@127.0.0.1:`, "the JSON log shows the database URL with the password masked")
	assert.Contains(t, textLog, `database="postgres://`+role+`:xxxxx@127.0.0.1:`, "the text log shows the database URL with the password masked")
	assert.Contains(t, jsonLog, `"level":"WARN"`, "the rejected start-ups were logged, so the scan read a log with token ids in it")
	assert.Contains(t, textLog, "Token renewed", "the renewal cycle was logged")

	scan.scan("the worker log (JSON)", []byte(jsonLog))
	scan.scan("the worker log (text)", []byte(textLog))
	for _, transcript := range transcripts {
		source := filepath.Base(transcript.name) + " " + strings.Join(transcript.args, " ")
		scan.scan("stdout of "+source, []byte(transcript.stdout))
		scan.scan("stderr of "+source, []byte(transcript.stderr))
	}
	metricsNote := "not served by this worker build"
	if workerHasMetrics {
		scan.scan("the metrics of the JSON-logging worker", []byte(jsonMetrics))
		scan.scan("the metrics of the text-logging worker", []byte(textMetrics))
		metricsNote = fmt.Sprintf("%d bytes scanned", len(jsonMetrics)+len(textMetrics))
	}
	exported := exportAndScanHistories(t, ctx, c, scan)

	assert.Empty(t, scan.hits, "secrets found outside the database")
	recordFigure("secrets.found", len(scan.hits))
	recordFigure("secrets.scanned", fmt.Sprintf("%d sources, %d bytes: %s; worker logs (JSON %d bytes, text %d bytes); %d starter and CLI runs; metrics %s",
		scan.sources, scan.bytes, exported, len(jsonLog), len(textLog), len(transcripts), metricsNote))
	recordFigure("secrets.needles", fmt.Sprintf("the pattern mul_[0-9a-f]{40}, %d raw tokens, their %d hashes, the database password in 4 forms",
		len(tokens), len(tokens)))
}

// createPasswordRole creates a login role with a password that may use
// the test's database and returns the role, the password and a URL with
// both. The throwaway cluster trusts every connection on 127.0.0.1, so
// PostgreSQL never checks the password, but the worker and the starter
// still carry it in their configuration, as they would in production.
func createPasswordRole(t *testing.T, ctx context.Context, pool *pgxpool.Pool) (string, string, string) {
	t.Helper()
	random := make([]byte, 16)
	_, err := rand.Read(random)
	require.NoError(t, err)
	role := strings.ReplaceAll(uniqueName("app"), "-", "_")
	// The slash must be escaped in a URL, so the scan also covers the
	// encoded form.
	password := "S3cr3t/" + hex.EncodeToString(random)
	database := pool.Config().ConnConfig.Database
	identifier := pgx.Identifier{role}.Sanitize()

	for _, statement := range []string{
		"CREATE ROLE " + identifier + " LOGIN PASSWORD '" + strings.ReplaceAll(password, "'", "''") + "'",
		"GRANT CONNECT ON DATABASE " + pgx.Identifier{database}.Sanitize() + " TO " + identifier,
		"GRANT USAGE ON SCHEMA public TO " + identifier,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + identifier,
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO " + identifier,
	} {
		_, err := pool.Exec(ctx, statement)
		require.NoError(t, err, "set up role %s", role)
	}
	// Registered before the workers start, so it runs after they stop.
	t.Cleanup(func() {
		cleanupCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(cleanupCtx, "DROP OWNED BY "+identifier); err != nil {
			t.Logf("revoke the grants of role %s: %v", role, err)
		}
		if _, err := pool.Exec(cleanupCtx, "DROP ROLE "+identifier); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})

	databaseURL, err := url.Parse(pool.Config().ConnString())
	require.NoError(t, err, "parse the database URL")
	databaseURL.User = url.UserPassword(role, password)
	return role, password, databaseURL.String()
}

// commandRun is one run of a binary with its outputs.
type commandRun struct {
	name     string
	args     []string
	stdout   string
	stderr   string
	exitCode int
}

func runSecretsCommand(t *testing.T, name string, env []string, args ...string) commandRun {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(inheritedEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr, "run %s", name)
		code = exitErr.ExitCode()
	}
	return commandRun{name: name, args: args, stdout: stdout.String(), stderr: stderr.String(), exitCode: code}
}

func buildStarterBinary(t *testing.T) string {
	t.Helper()
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "starter")
	cmd := exec.Command("go", "build", "-o", path, "./starter")
	cmd.Dir = root
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./starter:\n%s", output)
	return path
}

func cliBinary(t *testing.T) string {
	t.Helper()
	path, err := devenv.FindTemporalCLI()
	require.NoError(t, err)
	return path
}

// workerServesMetrics reports whether the worker binary has a metrics
// endpoint to scan, judged by its help.
func workerServesMetrics(t *testing.T) bool {
	t.Helper()
	help := runSecretsCommand(t, buildWorker(t), nil, "--help")
	require.Equal(t, 0, help.exitCode, "worker --help")
	return strings.Contains(help.stdout, "--metrics-address")
}

// secretsWorker is one run of the worker binary whose whole output the
// test scans.
type secretsWorker struct {
	cmd         *exec.Cmd
	logPath     string
	metricsPort int
	exited      chan struct{}
}

// startSecretsWorker runs the worker binary with its log in format and
// waits until it polls taskQueue.
func startSecretsWorker(t *testing.T, ctx context.Context, c client.Client, format, taskQueue string, env []string, withMetrics bool) *secretsWorker {
	t.Helper()
	w := &secretsWorker{logPath: filepath.Join(t.TempDir(), "worker-"+format+".log"), exited: make(chan struct{})}
	if withMetrics {
		port, err := devenv.FreePort()
		require.NoError(t, err)
		w.metricsPort = port
		env = append(env, fmt.Sprintf("DAEMONAUTH_METRICS_ADDRESS=127.0.0.1:%d", port))
	}
	logFile, err := os.Create(w.logPath)
	require.NoError(t, err, "create the worker log")

	w.cmd = exec.Command(buildWorker(t), "--log-format", format)
	w.cmd.Env = append(inheritedEnv(), env...)
	w.cmd.Stdout = logFile
	w.cmd.Stderr = logFile
	require.NoError(t, w.cmd.Start(), "start the worker")
	go func() {
		w.cmd.Wait()
		logFile.Close()
		close(w.exited)
	}()
	t.Cleanup(func() { w.stop(t) })

	identity := fmt.Sprintf("%d@", w.cmd.Process.Pid)
	require.Eventually(t, func() bool {
		select {
		case <-w.exited:
			return true
		default:
		}
		return pollingError(ctx, c, taskQueue, identity) == nil
	}, time.Minute, 50*time.Millisecond, "the worker polls %s", taskQueue)
	select {
	case <-w.exited:
		log, _ := os.ReadFile(w.logPath)
		t.Fatalf("the worker ended before it polled:\n%s", log)
	default:
	}
	return w
}

// metrics returns the worker's /metrics page, or "" without metrics.
func (w *secretsWorker) metrics(t *testing.T, ctx context.Context) string {
	t.Helper()
	if w.metricsPort == 0 {
		return ""
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", w.metricsPort), nil)
	require.NoError(t, err)
	response, err := http.DefaultClient.Do(request)
	require.NoError(t, err, "read the worker's metrics")
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	require.NoError(t, err, "read the worker's metrics")
	require.Equal(t, http.StatusOK, response.StatusCode, "metrics status:\n%s", body)
	return string(body)
}

// stop ends the worker with SIGTERM, or SIGKILL after 15 seconds, and
// returns its whole log.
func (w *secretsWorker) stop(t *testing.T) string {
	select {
	case <-w.exited:
	default:
		w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(15 * time.Second):
			w.cmd.Process.Signal(syscall.SIGKILL)
			<-w.exited
		}
	}
	log, err := os.ReadFile(w.logPath)
	if err != nil {
		t.Errorf("read the worker log: %v", err)
	}
	return string(log)
}

// exportAndScanHistories lists every workflow run on the dev server, open
// or closed, and writes each history as the JSON that `temporal workflow
// show --output json` prints. It scans each history twice: as that JSON,
// and as its protobuf encoding, where payloads appear as their raw bytes
// instead of base64. It also scans every run's search attributes and memo,
// decoded, and returns what it read, for the summary.
func exportAndScanHistories(t *testing.T, ctx context.Context, c client.Client, scan *secretScan) string {
	t.Helper()
	exportDir := t.TempDir()
	dataConverter := converter.GetDefaultDataConverter()
	runs, events, attributes := 0, 0, 0
	var pageToken []byte
	for {
		page, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, NextPageToken: pageToken})
		require.NoError(t, err, "list the workflows on the dev server")
		for _, execution := range page.GetExecutions() {
			runs++
			workflowID := execution.GetExecution().GetWorkflowId()
			runID := execution.GetExecution().GetRunId()
			source := "workflow " + workflowID + " run " + runID

			indexed := execution.GetSearchAttributes().GetIndexedFields()
			for name, payload := range indexed {
				attributes++
				var value any
				require.NoError(t, dataConverter.FromPayload(payload, &value), "decode search attribute %s of %s", name, source)
				scan.scan("search attribute "+name+" of "+source, fmt.Append(nil, value))
			}
			for name, payload := range execution.GetMemo().GetFields() {
				scan.scan("memo "+name+" of "+source, payload.GetData())
			}
			info, err := proto.Marshal(execution)
			require.NoError(t, err)
			scan.scan("the list entry of "+source, info)

			history := &historyExport{}
			iter := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for iter.HasNext() {
				event, err := iter.Next()
				require.NoError(t, err, "read the history of %s", source)
				events++
				wire, err := proto.Marshal(event)
				require.NoError(t, err)
				scan.scan(fmt.Sprintf("event %d of %s (protobuf)", event.GetEventId(), source), wire)
				eventJSON, err := protojson.Marshal(event)
				require.NoError(t, err)
				history.Events = append(history.Events, eventJSON)
			}
			exported, err := json.MarshalIndent(history, "", "  ")
			require.NoError(t, err)
			path := filepath.Join(exportDir, fmt.Sprintf("%04d.json", runs))
			require.NoError(t, os.WriteFile(path, exported, 0o600), "export the history of %s", source)
			scan.scan("the exported history of "+source, exported)
		}
		pageToken = page.GetNextPageToken()
		if len(pageToken) == 0 {
			break
		}
	}
	require.Positive(t, runs, "the dev server lists workflows")
	return fmt.Sprintf("%d histories (%d events) and %d search attributes on the dev server", runs, events, attributes)
}

// historyExport is the shape of `temporal workflow show --output json`.
type historyExport struct {
	Events []json.RawMessage `json:"events"`
}

// TestSecretScanFindsPlantedSecrets checks the scan itself: a raw token in
// a payload is found in the protobuf encoding of an event, although the
// JSON export shows the payload only as base64.
func TestSecretScanFindsPlantedSecrets(t *testing.T) {
	raw, err := seed.NewRawToken()
	require.NoError(t, err)
	payload, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"token": raw})
	require.NoError(t, err)
	event := &historypb.HistoryEvent{
		EventId:   1,
		EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
				Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{payload}},
			},
		},
	}
	wire, err := proto.Marshal(event)
	require.NoError(t, err)
	eventJSON, err := protojson.Marshal(event)
	require.NoError(t, err)

	inJSON := &secretScan{}
	inJSON.needles.add("the planted token", raw)
	inJSON.scan("the JSON export", eventJSON)
	inWire := &secretScan{}
	inWire.needles.add("the planted token", raw)
	inWire.scan("the protobuf encoding", wire)
	inLog := &secretScan{}
	inLog.scan("a log line", []byte("level=INFO msg=done token="+raw))

	assert.Empty(t, inJSON.hits, "the JSON export hides a payload in base64, so scanning it alone is not enough")
	assert.Equal(t, []string{
		"a raw token (mul_ and 40 hex) in the protobuf encoding",
		"the planted token (1×) in the protobuf encoding",
	}, inWire.hits, "the protobuf encoding shows the payload's bytes")
	assert.Equal(t, []string{"a raw token (mul_ and 40 hex) in a log line"}, inLog.hits, "the pattern finds a token that is not a needle")
}
