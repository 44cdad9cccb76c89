package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"daemonauth"
	"daemonauth/activities"
	"daemonauth/internal/config"
	"daemonauth/internal/daemonclient"
	"daemonauth/internal/devenv"
	"daemonauth/internal/logging"
	"daemonauth/internal/workerapp"
	"daemonauth/migrations"
)

// Options sizes a benchmark run.
type Options struct {
	CASSizes      []int
	CASRounds     int
	Writers       int
	WriterRounds  int
	StartupSizes  []int
	InFlight      int
	Fleet         int
	CycleSample   int
	CycleInterval time.Duration
}

// Tiny is a run small enough for `make test`, so the harness cannot rot.
var Tiny = Options{
	CASSizes: []int{20}, CASRounds: 1, Writers: 8, WriterRounds: 2,
	StartupSizes: []int{5}, InFlight: 5, Fleet: 20, CycleSample: 2, CycleInterval: 200 * time.Millisecond,
}

// Full is the run `make bench` does.
var Full = Options{
	CASSizes: []int{1000, 10000, 100000}, CASRounds: 3, Writers: 64, WriterRounds: 20,
	StartupSizes: []int{100, 300, 1000}, InFlight: 100, Fleet: 10000, CycleSample: 5, CycleInterval: 200 * time.Millisecond,
}

// Row is one line of the result table.
type Row struct {
	Measure string
	Value   string
	Target  string
	Met     bool
}

// Run starts its own PostgreSQL and Temporal dev server, measures every
// row, and writes progress to log. It returns the rows in table order.
func Run(ctx context.Context, opts Options, log io.Writer) ([]Row, error) {
	fmt.Fprintln(log, "==> Starting PostgreSQL")
	pg, err := devenv.StartPostgres(ctx, devenv.PostgresOptions{Database: "bench"})
	if err != nil {
		return nil, err
	}
	defer pg.Stop()
	poolConfig, err := pgxpool.ParseConfig(pg.URL("bench"))
	if err != nil {
		return nil, err
	}
	poolConfig.MaxConns = int32(max(opts.Writers, opts.InFlight) + 10)
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	store, err := activities.NewStore(pool, activities.Policy{Extension: activities.DefaultExtension, Threshold: activities.DefaultThreshold})
	if err != nil {
		return nil, err
	}

	var rows []Row
	casRows, err := measureCAS(ctx, store, pool, opts, log)
	if err != nil {
		return nil, err
	}
	rows = append(rows, casRows...)

	contentionRows, err := measureContention(ctx, store, pool, opts, log)
	if err != nil {
		return nil, err
	}
	rows = append(rows, contentionRows...)

	fmt.Fprintln(log, "==> Starting the Temporal dev server and the worker")
	server, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{})
	if err != nil {
		return nil, err
	}
	defer server.Stop()
	c, stopWorker, err := startWorker(ctx, server.FrontendHostPort(), pool, pg.URL("bench"), opts)
	if err != nil {
		return nil, err
	}
	defer stopWorker()

	startupRows, err := measureStartups(ctx, c, pool, opts, log)
	if err != nil {
		return nil, err
	}
	rows = append(rows, startupRows...)

	fleetRows, err := measureFleet(ctx, c, pool, opts, log)
	if err != nil {
		return nil, err
	}
	return append(rows, fleetRows...), nil
}

const benchQueue = "bench"

func startWorker(ctx context.Context, address string, pool *pgxpool.Pool, databaseURL string, opts Options) (client.Client, func(), error) {
	cfg := config.Config{
		Temporal: config.Temporal{Address: address, Namespace: "default", TaskQueue: benchQueue},
		Database: config.Database{URL: databaseURL},
		Renewal: config.Renewal{
			Extension: activities.DefaultExtension, Threshold: activities.DefaultThreshold,
			Interval: daemonauth.DefaultRenewalInterval, MinInterval: daemonauth.DefaultMinInterval,
			Jitter: daemonauth.DefaultJitter, CyclesPerRun: daemonauth.DefaultCyclesPerRun,
		},
		Log:          config.Log{Level: "error", Format: "text"},
		LoginCommand: daemonauth.DefaultLoginCommand,
	}
	logger := logging.New(io.Discard, "text", slog.LevelError)
	c, err := workerapp.DialTemporal(ctx, cfg, logging.Temporal(logger))
	if err != nil {
		return nil, nil, err
	}
	w, err := workerapp.New(ctx, cfg, pool, c)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	RegisterFloor(w)
	if err := w.Start(); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, func() { w.Stop(); c.Close() }, nil
}

func measureCAS(ctx context.Context, store *activities.Store, pool *pgxpool.Pool, opts Options, log io.Writer) ([]Row, error) {
	var rows []Row
	var perItem []float64
	for _, size := range opts.CASSizes {
		fmt.Fprintf(log, "==> CAS renewal against a bare UPDATE, %d tokens, %d rounds\n", size, opts.CASRounds)
		var ratios []float64
		var casPerItem time.Duration
		for range opts.CASRounds {
			bareIDs, err := SeedDueTokens(ctx, pool, size)
			if err != nil {
				return nil, err
			}
			casIDs, err := SeedDueTokens(ctx, pool, size)
			if err != nil {
				return nil, err
			}
			began := time.Now()
			if err := BareUpdate(ctx, pool, bareIDs); err != nil {
				return nil, err
			}
			bare := time.Since(began)
			began = time.Now()
			if err := RenewCAS(ctx, store, casIDs); err != nil {
				return nil, err
			}
			cas := time.Since(began)
			ratios = append(ratios, bare.Seconds()/cas.Seconds())
			casPerItem = cas / time.Duration(size)
		}
		ratio := median(ratios)
		perItem = append(perItem, float64(casPerItem))
		rows = append(rows, Row{
			Measure: fmt.Sprintf("1. CAS renewal throughput / bare UPDATE, %d tokens", size),
			Value:   fmt.Sprintf("%.2f (CAS %s per token)", ratio, casPerItem.Round(time.Microsecond)),
			Target:  ">= 0.90",
			Met:     ratio >= 0.9,
		})
	}
	if len(perItem) > 1 {
		growth := perItem[len(perItem)-1] / perItem[0]
		rows = append(rows, Row{
			Measure: "5. CAS cost per token, largest size / smallest",
			Value:   fmt.Sprintf("%.2f", growth),
			Target:  "flat (<= 1.5)",
			Met:     growth <= 1.5,
		})
	}
	return rows, nil
}

func measureContention(ctx context.Context, store *activities.Store, pool *pgxpool.Pool, opts Options, log io.Writer) ([]Row, error) {
	fmt.Fprintf(log, "==> %d concurrent renewals of one token, %d rounds\n", opts.Writers, opts.WriterRounds)
	var winners, losers []time.Duration
	extensionsOK := true
	for range opts.WriterRounds {
		result, err := Contention(ctx, store, pool, opts.Writers)
		if err != nil {
			return nil, err
		}
		if result.Winners != 1 || result.Extensions != 1 {
			extensionsOK = false
		}
		winners = append(winners, result.Winner)
		losers = append(losers, result.Losers...)
	}
	winnerP99, loserP99 := Percentile(winners, 99), Percentile(losers, 99)
	ratio := loserP99.Seconds() / winnerP99.Seconds()
	return []Row{
		{
			Measure: fmt.Sprintf("2. %d concurrent renewals of one token: extensions per round", opts.Writers),
			Value:   map[bool]string{true: "exactly 1 in every round", false: "NOT 1 in some round"}[extensionsOK],
			Target:  "exactly 1",
			Met:     extensionsOK,
		},
		{
			Measure: "2. loser p99 / winner p99 latency",
			Value: fmt.Sprintf("%.2f (winner p50 %s p99 %s; loser p50 %s p99 %s)", ratio,
				Percentile(winners, 50).Round(time.Microsecond), winnerP99.Round(time.Microsecond),
				Percentile(losers, 50).Round(time.Microsecond), loserP99.Round(time.Microsecond)),
			Target: "<= 2.0",
			Met:    ratio <= 2,
		},
	}, nil
}

func measureStartups(ctx context.Context, c client.Client, pool *pgxpool.Pool, opts Options, log io.Writer) ([]Row, error) {
	var rows []Row
	var perItem []float64
	for round, size := range opts.StartupSizes {
		fmt.Fprintf(log, "==> %d DaemonStartups against %d floor workflows, %d in flight\n", size, size, opts.InFlight)
		tokens, err := SeedDueTokens(ctx, pool, size)
		if err != nil {
			return nil, err
		}
		floor := RunFloor(ctx, c, benchQueue, fmt.Sprintf("floor-%d", round), size, opts.InFlight)
		startups := RunStartups(ctx, c, benchQueue, fmt.Sprintf("daemon-%d", round), tokens, opts.InFlight)
		if floor.Failures > 0 || startups.Failures > 0 {
			return nil, fmt.Errorf("%d floor and %d start-up failures at size %d", floor.Failures, startups.Failures, size)
		}
		p50 := Percentile(startups.Latencies, 50).Seconds() / Percentile(floor.Latencies, 50).Seconds()
		throughput := startups.Throughput() / floor.Throughput()
		perItem = append(perItem, startups.Elapsed.Seconds()/float64(size))
		rows = append(rows,
			Row{
				Measure: fmt.Sprintf("3. DaemonStartup p50 / floor p50, %d start-ups", size),
				Value: fmt.Sprintf("%.2f (p50 %s, p99 %s; floor p50 %s, p99 %s)", p50,
					Percentile(startups.Latencies, 50).Round(time.Millisecond), Percentile(startups.Latencies, 99).Round(time.Millisecond),
					Percentile(floor.Latencies, 50).Round(time.Millisecond), Percentile(floor.Latencies, 99).Round(time.Millisecond)),
				Target: "<= 1.25",
				Met:    p50 <= 1.25,
			},
			Row{
				Measure: fmt.Sprintf("3. DaemonStartup throughput / floor, %d start-ups", size),
				Value:   fmt.Sprintf("%.2f (%.1f/s; floor %.1f/s)", throughput, startups.Throughput(), floor.Throughput()),
				Target:  ">= 0.80",
				Met:     throughput >= 0.8,
			})
	}
	if len(perItem) > 1 {
		growth := perItem[len(perItem)-1] / perItem[0]
		rows = append(rows, Row{
			Measure: "5. DaemonStartup time per start-up, largest size / smallest",
			Value:   fmt.Sprintf("%.2f", growth),
			Target:  "flat (<= 1.5)",
			Met:     growth <= 1.5,
		})
	}
	return rows, nil
}

func measureFleet(ctx context.Context, c client.Client, pool *pgxpool.Pool, opts Options, log io.Writer) ([]Row, error) {
	fmt.Fprintf(log, "==> %d TokenRenewal workflows started and asleep\n", opts.Fleet)
	before := residentMemory()
	result := runLoad(ctx, opts.Fleet, opts.InFlight, func(i int) error {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        fmt.Sprintf("fleet-%d", i),
			TaskQueue: benchQueue,
		}, daemonauth.WorkflowTokenRenewal, daemonauth.TokenRenewalInput{
			DaemonID: fmt.Sprintf("fleet-%d", i),
			TokenID:  fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		})
		return err
	})
	if result.Failures > 0 {
		return nil, fmt.Errorf("%d of %d fleet workflows did not start", result.Failures, opts.Fleet)
	}
	if err := waitAsleep(ctx, c, opts.Fleet); err != nil {
		return nil, err
	}
	eventsEarly, eventsLate, largest, err := measureCycles(ctx, c, pool, opts, log)
	if err != nil {
		return nil, err
	}
	runtime.GC()
	rss := residentMemory()

	return []Row{
		{
			Measure: fmt.Sprintf("4. worker process RSS with %d renewals asleep", opts.Fleet),
			Value:   fmt.Sprintf("%d MB (%d MB before starting them)", rss>>20, before>>20),
			Target:  "<= 256 MB",
			Met:     rss <= 256<<20,
		},
		{
			Measure: "4. events per renewal cycle, first run / second run",
			Value:   fmt.Sprintf("%.2f / %.2f", eventsEarly, eventsLate),
			Target:  "constant (within 0.5)",
			Met:     math.Abs(eventsEarly-eventsLate) <= 0.5,
		},
		{
			Measure: "4. largest history seen across cycles",
			Value:   fmt.Sprintf("%d events", largest),
			Target:  "< 2000",
			Met:     largest < 2000,
		},
	}, nil
}

// waitAsleep returns once a sample of the fleet, the last one started
// included, has completed its first workflow task and is waiting on its
// timer. The worker works through the fleet's first tasks in order, so by
// then the fleet is asleep.
func waitAsleep(ctx context.Context, c client.Client, fleet int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for i := fleet - 1; i >= 0; i -= max(fleet/20, 1) {
		for {
			description, err := c.DescribeWorkflowExecution(ctx, fmt.Sprintf("fleet-%d", i), "")
			if err != nil {
				return err
			}
			if description.GetWorkflowExecutionInfo().GetHistoryLength() >= 5 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("fleet-%d did not fall asleep within 10 minutes", i)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// measureCycles runs a few renewals with a short interval, long enough to
// continue as new twice, and returns the events per cycle early and late in
// a run and the largest history length seen.
func measureCycles(ctx context.Context, c client.Client, pool *pgxpool.Pool, opts Options, log io.Writer) (float64, float64, int64, error) {
	fmt.Fprintf(log, "==> %d renewals cycling every %s\n", opts.CycleSample, opts.CycleInterval)
	tokens, err := seedHealthyTokens(ctx, pool, opts.CycleSample)
	if err != nil {
		return 0, 0, 0, err
	}
	const cyclesPerRun = 20
	ids := make([]string, len(tokens))
	for i, tokenID := range tokens {
		ids[i] = fmt.Sprintf("cycling-%d", i)
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: daemonauth.RenewalWorkflowID(ids[i]), TaskQueue: benchQueue},
			daemonauth.WorkflowTokenRenewal, daemonauth.TokenRenewalInput{
				DaemonID: ids[i], TokenID: tokenID,
				Interval: opts.CycleInterval.String(), MinInterval: opts.CycleInterval.String(), Jitter: "0s",
				CyclesPerRun: cyclesPerRun,
			})
		if err != nil {
			return 0, 0, 0, err
		}
	}

	// Wait until every sampled workflow has continued as new twice, so two
	// complete runs of cyclesPerRun cycles each are closed.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		done := true
		for _, id := range ids {
			// A query waits behind the worker's backlog and may time out
			// while the backlog is long, so a failed query is sent again in
			// the next round.
			status, err := daemonclient.RenewalStatus(ctx, c, id)
			done = done && err == nil && status.ContinueAsNewCount >= 2
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("the sampled renewals did not continue as new twice within 5 minutes")
		}
		time.Sleep(opts.CycleInterval)
	}
	for _, id := range ids {
		if _, err := daemonclient.StopRenewal(ctx, c, id, "benchmark done"); err != nil {
			return 0, 0, 0, err
		}
	}

	// A closed run holds exactly cyclesPerRun cycles, so the events of the
	// first and the second run, divided by the cycles, are the events per
	// cycle early and late in the workflow's life.
	var firstRuns, secondRuns []float64
	var largest int64
	for _, id := range ids {
		runs, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = '%s' AND ExecutionStatus = 'ContinuedAsNew'", daemonauth.RenewalWorkflowID(id)),
		})
		if err != nil {
			return 0, 0, 0, err
		}
		executions := runs.GetExecutions()
		if len(executions) < 2 {
			return 0, 0, 0, fmt.Errorf("%s has %d closed runs, want 2", id, len(executions))
		}
		// Newest first: the last two are the first and the second run.
		first := executions[len(executions)-1].GetHistoryLength()
		second := executions[len(executions)-2].GetHistoryLength()
		firstRuns = append(firstRuns, float64(first)/cyclesPerRun)
		secondRuns = append(secondRuns, float64(second)/cyclesPerRun)
		largest = max(largest, first, second)
	}
	return median(firstRuns), median(secondRuns), largest, nil
}

func seedHealthyTokens(ctx context.Context, pool *pgxpool.Pool, n int) ([]string, error) {
	ids, err := SeedDueTokens(ctx, pool, n)
	if err != nil {
		return nil, err
	}
	_, err = pool.Exec(ctx, `UPDATE personal_access_token SET expires_at = now() + interval '60 days' WHERE id = ANY($1::uuid[])`, ids)
	return ids, err
}

// residentMemory returns this process's resident set size in bytes, read
// from /proc/self/status (Linux).
func residentMemory() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(status), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

func median(values []float64) float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// WriteTable writes rows as a Markdown table.
func WriteTable(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| measure | value | target | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	for _, row := range rows {
		met := "yes"
		if !row.Met {
			met = "no"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", row.Measure, row.Value, row.Target, met)
	}
}
