// Package reliability holds the reliability suite. It runs the real worker
// binary against a real Temporal dev server and a real PostgreSQL under the
// faults that operators meet and under load. The faults are a worker
// killed with SIGKILL at 20 points of a start-up, a PostgreSQL restart, a
// Temporal restart, and a second worker taking over from a killed one.
// The suite checks that every workflow completes and that every token
// inside its renewal window is extended exactly once, and prints its
// figures at the end of the run.
//
// The tests need the build tag, so `go test ./...` skips them:
//
//	go test -tags reliability -count=1 -v ./reliability/
//
// Without -v, go test shows a passing package's output, and so the
// summary, only as its "ok" line.
package reliability
