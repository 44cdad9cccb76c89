// Package activities implements the daemon-auth activities: RenewToken,
// SyncWorkspaces and EnsureTokenRenewal.
//
// The database work lives in Store, which does not depend on Temporal, so
// tests and benchmarks can drive it directly. Activities wraps Store, turns
// its domain errors into Temporal application errors, and is registered
// once on the worker.
//
// Failure kinds, and how a caller tells them apart:
//   - a TokenRejected application error (non-retryable): the token is
//     unknown, revoked or expired, and only a new login helps;
//   - an InvalidInput application error (non-retryable): the input is
//     malformed;
//   - any other error (retryable): the database or Temporal could not be
//     reached, or a statement failed. Retrying the same input is safe.
package activities
