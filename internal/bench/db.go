// Package bench measures what a renewal and a start-up cost, always as a
// ratio against a floor measured in the same run on the same machine,
// because the machines this runs on are shared and noisy. cmd bench prints the table; the Go benchmarks in this
// package run the database parts under `go test -bench`.
package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"daemonauth/activities"
)

// SeedDueTokens inserts n tokens that are inside the renewal window, for one
// user, in a single statement, and returns their ids.
func SeedDueTokens(ctx context.Context, pool *pgxpool.Pool, n int) ([]string, error) {
	var userID string
	err := pool.QueryRow(ctx, `
INSERT INTO "user" (name, email) VALUES ('Bench', 'bench-' || gen_random_uuid() || '@example.com')
RETURNING id::text`).Scan(&userID)
	if err != nil {
		return nil, fmt.Errorf("create bench user: %w", err)
	}
	rows, err := pool.Query(ctx, `
INSERT INTO personal_access_token (user_id, name, token_hash, token_prefix, expires_at)
SELECT $1, 'bench', md5(random()::text) || md5(random()::text), 'mul_bench', now() + interval '3 days'
FROM generate_series(1, $2)
RETURNING id::text`, userID, n)
	if err != nil {
		return nil, fmt.Errorf("seed %d tokens: %w", n, err)
	}
	defer rows.Close()
	ids := make([]string, 0, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// bareUpdateSQL is the floor for RenewCAS: one UPDATE … RETURNING with no
// predicate beyond the id and no audit row.
const bareUpdateSQL = `UPDATE personal_access_token SET expires_at = now() + interval '90 days' WHERE id = $1 RETURNING expires_at`

// RenewCAS renews each token once through Store.RenewToken, the
// RenewToken activity's database work with its audit row.
func RenewCAS(ctx context.Context, store *activities.Store, ids []string) error {
	for i, id := range ids {
		by := activities.Extender{WorkflowID: "bench", RunID: "bench", ActivityID: fmt.Sprint(i)}
		result, err := store.RenewToken(ctx, id, by)
		if err != nil {
			return err
		}
		if !result.Renewed {
			return fmt.Errorf("token %s was not renewed; was it seeded inside the window?", id)
		}
	}
	return nil
}

// BareUpdate runs the floor statement once per token.
func BareUpdate(ctx context.Context, pool *pgxpool.Pool, ids []string) error {
	for _, id := range ids {
		var expiresAt time.Time
		if err := pool.QueryRow(ctx, bareUpdateSQL, id).Scan(&expiresAt); err != nil {
			return err
		}
	}
	return nil
}

// ContentionResult is one round of concurrent renewals of a single token.
type ContentionResult struct {
	Winners    int
	Extensions int
	Winner     time.Duration
	Losers     []time.Duration
}

// Contention renews one due token from writers goroutines at once and
// times each call.
func Contention(ctx context.Context, store *activities.Store, pool *pgxpool.Pool, writers int) (ContentionResult, error) {
	ids, err := SeedDueTokens(ctx, pool, 1)
	if err != nil {
		return ContentionResult{}, err
	}
	tokenID := ids[0]
	if err := warmPool(ctx, pool, writers); err != nil {
		return ContentionResult{}, err
	}

	start := make(chan struct{})
	latencies := make([]time.Duration, writers)
	renewed := make([]bool, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			began := time.Now()
			result, err := store.RenewToken(ctx, tokenID, activities.Extender{WorkflowID: "contention", RunID: fmt.Sprint(i), ActivityID: "1"})
			latencies[i] = time.Since(began)
			renewed[i] = result.Renewed
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()

	var result ContentionResult
	for i := range writers {
		if errs[i] != nil {
			return ContentionResult{}, errs[i]
		}
		if renewed[i] {
			result.Winners++
			result.Winner = latencies[i]
		} else {
			result.Losers = append(result.Losers, latencies[i])
		}
	}
	err = pool.QueryRow(ctx, `SELECT count(*) FROM token_extension WHERE token_id = $1`, tokenID).Scan(&result.Extensions)
	return result, err
}

// Percentile returns the p-th percentile (0 to 100) of durations, by the
// nearest-rank method.
func Percentile(durations []time.Duration, p float64) time.Duration {
	if len(durations) == 0 {
		return 0
	}
	sorted := append([]time.Duration(nil), durations...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	rank := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// warmPool opens n connections up front, so concurrent writers race on the
// row lock rather than on connection set-up.
func warmPool(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, conn := range conns {
			conn.Release()
		}
	}()
	for range n {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("open connection %d of %d: %w", len(conns)+1, n, err)
		}
		conns = append(conns, conn)
	}
	return nil
}
