package bench_test

import "github.com/jackc/pgx/v5/pgxpool"

type testenvPool struct{ *pgxpool.Pool }
