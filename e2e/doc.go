// Package e2e holds the end-to-end tests: the real worker against a real
// Temporal dev server and a real PostgreSQL, driven through the SDK client,
// the starter binary and the temporal CLI.
package e2e
