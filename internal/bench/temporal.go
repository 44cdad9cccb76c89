package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"daemonauth"
	"daemonauth/internal/daemonclient"
)

// FloorWorkflowName is the engine floor for DaemonStartup: the same number
// of workflow tasks and two activities, doing nothing.
const FloorWorkflowName = "BenchFloor"

// FloorWorkflow runs two no-op activities in sequence with the options
// DaemonStartup gives its renewal, so the comparison isolates the cost of
// the real work.
func FloorWorkflow(ctx workflow.Context, in daemonauth.DaemonStartupInput) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var first, second string
	if err := workflow.ExecuteActivity(ctx, NoOp, in.DaemonID).Get(ctx, &first); err != nil {
		return "", err
	}
	if err := workflow.ExecuteActivity(ctx, NoOp, in.DaemonID).Get(ctx, &second); err != nil {
		return "", err
	}
	return first + second, nil
}

// NoOp is the floor's activity.
func NoOp(_ context.Context, daemonID string) (string, error) { return daemonID, nil }

// RegisterFloor registers the floor workflow and its activity on w.
func RegisterFloor(w worker.Worker) {
	w.RegisterWorkflowWithOptions(FloorWorkflow, workflow.RegisterOptions{Name: FloorWorkflowName})
	w.RegisterActivity(NoOp)
}

// LoadResult is the outcome of running many workflows at once.
type LoadResult struct {
	Latencies []time.Duration
	Elapsed   time.Duration
	Failures  int
}

// Throughput returns completed workflows per second.
func (r LoadResult) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)-r.Failures) / r.Elapsed.Seconds()
}

// RunStartups runs DaemonStartup for each token, a distinct daemon each,
// with at most inFlight running at once, and times each from start to
// result.
func RunStartups(ctx context.Context, c client.Client, taskQueue, prefix string, tokenIDs []string, inFlight int) LoadResult {
	return runLoad(ctx, len(tokenIDs), inFlight, func(i int) error {
		input := daemonauth.DaemonStartupInput{DaemonID: fmt.Sprintf("%s-%d", prefix, i), TokenID: tokenIDs[i]}
		_, err := daemonclient.StartDaemon(ctx, c, taskQueue, input)
		return err
	})
}

// RunFloor runs the floor workflow n times the same way.
func RunFloor(ctx context.Context, c client.Client, taskQueue, prefix string, n, inFlight int) LoadResult {
	return runLoad(ctx, n, inFlight, func(i int) error {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        fmt.Sprintf("%s-%d", prefix, i),
			TaskQueue: taskQueue,
		}, FloorWorkflowName, daemonauth.DaemonStartupInput{DaemonID: fmt.Sprint(i)})
		if err != nil {
			return err
		}
		return run.Get(ctx, nil)
	})
}

func runLoad(ctx context.Context, n, inFlight int, run func(i int) error) LoadResult {
	latencies := make([]time.Duration, n)
	failed := make([]bool, n)
	slots := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			start := time.Now()
			failed[i] = run(i) != nil
			latencies[i] = time.Since(start)
		})
	}
	wg.Wait()
	result := LoadResult{Latencies: latencies, Elapsed: time.Since(began)}
	for _, f := range failed {
		if f {
			result.Failures++
		}
	}
	return result
}

// HistoryLength returns the number of events in a workflow's current run.
func HistoryLength(ctx context.Context, c client.Client, workflowID string) (int64, error) {
	description, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return 0, err
	}
	return description.GetWorkflowExecutionInfo().GetHistoryLength(), nil
}

// LargestHistory returns the largest history length among all runs of the
// workflow IDs, closed runs included.
func LargestHistory(ctx context.Context, c client.Client, workflowIDs []string) (int64, error) {
	var largest int64
	for _, id := range workflowIDs {
		iter := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var events int64
		for iter.HasNext() {
			if _, err := iter.Next(); err != nil {
				return 0, err
			}
			events++
		}
		largest = max(largest, events)
	}
	return largest, nil
}
