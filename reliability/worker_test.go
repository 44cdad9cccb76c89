//go:build reliability

package reliability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// killAtEnv arms the fault points in the activities package: a worker
// started with it set to a point's name kills itself with SIGKILL there.
const killAtEnv = "DAEMONAUTH_TEST_KILL_AT"

// workerSettings configures one run of the worker binary through its
// environment, as an operator would.
type workerSettings struct {
	temporalAddress string
	databaseURL     string
	taskQueue       string
	// killAt is the fault point at which the worker kills itself; empty
	// runs the worker without one.
	killAt string
	// env holds further settings, such as "DAEMONAUTH_RENEWAL_INTERVAL=2s".
	env []string
}

// workerProcess is one running worker binary.
type workerProcess struct {
	cmd     *exec.Cmd
	logPath string
	// exited is closed when the process has ended, after state is set.
	exited chan struct{}
	state  *os.ProcessState
}

// startWorker starts the worker binary with settings. Its log goes to a
// file that the test prints when it fails. A worker still running when the
// test ends is stopped with SIGTERM, and killed if it does not stop.
func startWorker(t *testing.T, settings workerSettings) *workerProcess {
	t.Helper()
	logFile, err := os.CreateTemp(t.TempDir(), "worker-*.log")
	if err != nil {
		t.Fatalf("create the worker log: %v", err)
	}

	cmd := exec.Command(buildWorker(t), "--log-format", "json")
	cmd.Env = append(inheritedEnv(),
		"TEMPORAL_ADDRESS="+settings.temporalAddress,
		"DAEMONAUTH_DATABASE_URL="+settings.databaseURL,
		"DAEMONAUTH_TEMPORAL_TASK_QUEUE="+settings.taskQueue,
		// Port 0 lets the workers of parallel tests serve metrics side by
		// side, where the default port would let only one of them start.
		"DAEMONAUTH_METRICS_ADDRESS=127.0.0.1:0",
	)
	if settings.killAt != "" {
		cmd.Env = append(cmd.Env, killAtEnv+"="+settings.killAt)
	}
	cmd.Env = append(cmd.Env, settings.env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start the worker: %v", err)
	}

	w := &workerProcess{cmd: cmd, logPath: logFile.Name(), exited: make(chan struct{})}
	go func() {
		// Wait returns an *exec.ExitError for a signal too, so the state
		// records how the process ended.
		cmd.Wait()
		logFile.Close()
		w.state = cmd.ProcessState
		close(w.exited)
	}()

	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("log of worker %d (kill point %q):\n%s", cmd.Process.Pid, settings.killAt, w.logTail(8000))
		}
	})
	return w
}

// inheritedEnv returns the test's environment without this project's and
// Temporal's variables, so a setting of the shell that runs the tests, a
// kill point above all, never reaches a worker by accident.
func inheritedEnv() []string {
	var env []string
	for _, entry := range os.Environ() {
		if strings.HasPrefix(entry, "DAEMONAUTH_") || strings.HasPrefix(entry, "TEMPORAL_") {
			continue
		}
		env = append(env, entry)
	}
	return env
}

// pid returns the worker's process id.
func (w *workerProcess) pid() int { return w.cmd.Process.Pid }

// identityPrefix is how the worker's identity starts in Temporal's poller
// lists and histories: the SDK's default identity is "PID@HOST@...".
func (w *workerProcess) identityPrefix() string { return fmt.Sprintf("%d@", w.pid()) }

// running reports whether the process has not ended yet.
func (w *workerProcess) running() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to end.
func (w *workerProcess) kill() {
	w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.exited
}

// stop ends a running worker cleanly with SIGTERM, or with SIGKILL when it
// has not stopped after 15 seconds.
func (w *workerProcess) stop() {
	if !w.running() {
		return
	}
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(15 * time.Second):
		w.kill()
	}
}

// waitForExit waits up to timeout for the process to end and returns the
// signal that ended it, or fails the test.
func (w *workerProcess) waitForExit(t *testing.T, timeout time.Duration) syscall.Signal {
	t.Helper()
	select {
	case <-w.exited:
	case <-time.After(timeout):
		t.Fatalf("worker %d still runs after %s", w.pid(), timeout)
	}
	status, ok := w.state.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() {
		t.Fatalf("worker %d exited with %s, not by a signal", w.pid(), w.state)
	}
	return status.Signal()
}

// logTail returns the last limit bytes of the worker's log.
func (w *workerProcess) logTail(limit int) string {
	data, err := os.ReadFile(w.logPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", filepath.Base(w.logPath), err)
	}
	if len(data) > limit {
		data = data[len(data)-limit:]
	}
	return string(data)
}

// waitForPolling waits until the worker polls its task queue for both
// workflow and activity tasks, so a fault the test then injects meets a
// worker that takes work.
func waitForPolling(t *testing.T, ctx context.Context, c client.Client, taskQueue string, w *workerProcess) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := pollingError(ctx, c, taskQueue, w.identityPrefix())
		if err == nil {
			return
		}
		if !w.running() {
			t.Fatalf("worker %d ended before it polled %s (%s):\n%s", w.pid(), taskQueue, w.state, w.logTail(4000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d does not poll %s after a minute: %v\n%s", w.pid(), taskQueue, err, w.logTail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pollingError returns nil when a poller whose identity starts with
// identityPrefix polls taskQueue for both kinds of task.
func pollingError(ctx context.Context, c client.Client, taskQueue, identityPrefix string) error {
	for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		response, err := c.DescribeTaskQueue(ctx, taskQueue, kind)
		if err != nil {
			return fmt.Errorf("describe %s: %w", taskQueue, err)
		}
		found := false
		for _, poller := range response.GetPollers() {
			if strings.HasPrefix(poller.GetIdentity(), identityPrefix) {
				found = true
			}
		}
		if !found {
			return errors.New("no " + kind.String() + " poller with identity " + identityPrefix + "…")
		}
	}
	return nil
}
