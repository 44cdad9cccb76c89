package workflows_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"daemonauth"
)

// logRecord is one message a workflow logged.
type logRecord struct {
	level   string
	message string
	fields  map[string]string
}

// recordingLogger keeps every message so tests can assert on levels and
// fields. The test environment logs from its own goroutines, hence the lock.
type recordingLogger struct {
	mu      sync.Mutex
	records []logRecord
}

func (l *recordingLogger) add(level, message string, keyvals []any) {
	fields := map[string]string{}
	for i := 0; i+1 < len(keyvals); i += 2 {
		fields[fmt.Sprint(keyvals[i])] = fmt.Sprint(keyvals[i+1])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, logRecord{level: level, message: message, fields: fields})
}

func (l *recordingLogger) Debug(msg string, keyvals ...any) { l.add("DEBUG", msg, keyvals) }
func (l *recordingLogger) Info(msg string, keyvals ...any)  { l.add("INFO", msg, keyvals) }
func (l *recordingLogger) Warn(msg string, keyvals ...any)  { l.add("WARN", msg, keyvals) }
func (l *recordingLogger) Error(msg string, keyvals ...any) { l.add("ERROR", msg, keyvals) }

// at returns the records logged at level.
func (l *recordingLogger) at(level string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var matched []logRecord
	for _, r := range l.records {
		if r.level == level {
			matched = append(matched, r)
		}
	}
	return matched
}

// containing returns the records at level whose message contains text.
func (l *recordingLogger) containing(level, text string) []logRecord {
	var matched []logRecord
	for _, r := range l.at(level) {
		if strings.Contains(r.message, text) {
			matched = append(matched, r)
		}
	}
	return matched
}

var _ log.Logger = (*recordingLogger)(nil)

// newEnv returns a workflow test environment whose workflow logs go to the
// returned logger.
func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *recordingLogger) {
	t.Helper()
	logger := &recordingLogger{}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(logger)
	env := suite.NewTestWorkflowEnvironment()
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env, logger
}

const (
	testDaemonID = "laptop-7"
	testTokenID  = "0b7e5c1a-3f0e-4c52-9d7a-2a1f4e8b6c3d"
	newTokenID   = "5f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b"
)

func rejectedDetails(reason string) daemonauth.TokenRejectedDetails {
	return daemonauth.TokenRejectedDetails{TokenID: testTokenID, Reason: reason}
}
