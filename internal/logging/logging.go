// Package logging builds the slog logger of the worker and the starter and
// adapts it for the Temporal SDK.
package logging

import (
	"io"
	"log/slog"

	"go.temporal.io/sdk/log"
)

// New returns a logger writing text or JSON records at level and above.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	options := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, options))
	}
	return slog.New(slog.NewTextHandler(w, options))
}

// Temporal adapts logger for the Temporal SDK, so the SDK's own messages
// and the workflow and activity loggers share one output.
func Temporal(logger *slog.Logger) log.Logger {
	return log.NewStructuredLogger(logger)
}
