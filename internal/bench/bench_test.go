package bench_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daemonauth/activities"
	"daemonauth/internal/bench"
	"daemonauth/internal/testenv"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithPostgres(m))
}

func newStore(b testing.TB) (*activities.Store, *pgxpool.Pool) {
	pool, _ := testenv.NewDatabase(b)
	store, err := activities.NewStore(pool, activities.Policy{Extension: activities.DefaultExtension, Threshold: activities.DefaultThreshold})
	require.NoError(b, err)
	return store, pool
}

// BenchmarkRenewCAS is row 1's numerator: the RenewToken activity's
// database work, audit row included, on a token inside the window.
func BenchmarkRenewCAS(b *testing.B) {
	store, pool := newStore(b)
	ids, err := bench.SeedDueTokens(context.Background(), pool, b.N)
	require.NoError(b, err)
	b.ResetTimer()
	require.NoError(b, bench.RenewCAS(context.Background(), store, ids))
}

// BenchmarkBareUpdate is row 1's floor: one UPDATE … RETURNING per token.
func BenchmarkBareUpdate(b *testing.B) {
	_, pool := newStore(b)
	ids, err := bench.SeedDueTokens(context.Background(), pool, b.N)
	require.NoError(b, err)
	b.ResetTimer()
	require.NoError(b, bench.BareUpdate(context.Background(), pool, ids))
}

// BenchmarkContention64 is row 2: 64 writers renew one token at once.
func BenchmarkContention64(b *testing.B) {
	store, pool := newStore(b)
	var winners, losers []time.Duration
	for range b.N {
		result, err := bench.Contention(context.Background(), store, pool, 64)
		require.NoError(b, err)
		require.Equal(b, 1, result.Extensions, "exactly one extension per round")
		winners = append(winners, result.Winner)
		losers = append(losers, result.Losers...)
	}
	b.ReportMetric(float64(bench.Percentile(winners, 99).Microseconds()), "winner-p99-µs")
	b.ReportMetric(float64(bench.Percentile(losers, 99).Microseconds()), "loser-p99-µs")
}

// TestHarnessTiny runs the whole `make bench` harness at a tiny size, so
// it cannot rot. It checks correctness, never speed.
func TestHarnessTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal dev server and runs every measure once")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress strings.Builder

	rows, err := bench.Run(ctx, bench.Tiny, &progress)

	require.NoError(t, err, "harness output:\n%s", progress.String())
	var table strings.Builder
	bench.WriteTable(&table, rows)
	t.Log("\n" + table.String())
	measures := map[string]bench.Row{}
	for _, row := range rows {
		measures[row.Measure] = row
	}
	assert.True(t, measures["2. 8 concurrent renewals of one token: extensions per round"].Met, "exactly one extension per contention round")
	assert.True(t, measures["4. largest history seen across cycles"].Met, "continue-as-new keeps histories small")
	assert.True(t, measures["4. events per renewal cycle, first run / second run"].Met, "events per cycle stay constant")
	assert.Len(t, rows, 8, "every measure of the tiny run has a row")
}
