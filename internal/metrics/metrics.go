// Package metrics serves the worker's Prometheus metrics: the Temporal
// SDK's own, through the SDK's OpenTelemetry metrics handler and the
// OpenTelemetry Prometheus exporter, and the project's token renewal, token
// expiry and workspace sync series. No label holds a token or its hash: the
// only label besides the outcome is the daemon ID.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprometheus "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"daemonauth"
	"daemonauth/activities"
)

// Names of the project's series.
const (
	TokenRenewalsName     = "daemonauth_token_renewals_total"
	TokenExpiryName       = "daemonauth_token_expiry_timestamp_seconds"
	WorkspaceSyncsName    = "daemonauth_workspace_syncs_total"
	WorkspacesAddedName   = "daemonauth_workspaces_added_total"
	WorkspacesRemovedName = "daemonauth_workspaces_removed_total"
)

// timerBuckets are the histogram bounds, in seconds, of the SDK's timers
// (request, poll, task and activity latencies). The OpenTelemetry default
// bounds (0 to 10000) suit milliseconds and would put nearly every
// observation in the first bucket.
var timerBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// Metrics holds the worker's metrics registry. It implements
// activities.Metrics.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	temporal client.MetricsHandler

	renewals          *prometheus.CounterVec
	tokenExpiry       *prometheus.GaugeVec
	syncs             *prometheus.CounterVec
	workspacesAdded   prometheus.Counter
	workspacesRemoved prometheus.Counter
}

var _ activities.Metrics = (*Metrics)(nil)

// New returns an empty registry with the Go runtime and process collectors,
// the SDK's metrics and the project's series. logger receives the errors
// that the OpenTelemetry meter reports, which the SDK's handler would
// otherwise turn into panics.
func New(logger *slog.Logger) (*Metrics, error) {
	registry := prometheus.NewRegistry()
	exporter, err := otelprometheus.New(
		otelprometheus.WithRegisterer(registry),
		otelprometheus.WithAggregationSelector(aggregation),
	)
	if err != nil {
		return nil, fmt.Errorf("create the OpenTelemetry Prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exporter),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "daemon-auth-worker"))),
	)

	m := &Metrics{
		registry: registry,
		provider: provider,
		temporal: temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
			Meter: provider.Meter("temporal-sdk-go"),
			OnError: func(err error) {
				logger.Error("Temporal SDK metric not recorded", "error", err)
			},
			// Prometheus counters must be monotonic to get the _total
			// suffix and counter type that rate() expects.
			UseMonotonicCounters: true,
		}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: TokenRenewalsName,
			Help: "RenewToken activity attempts by outcome: renewed, not_due, never_expires, idle, rejected, " +
				"or failed (any other error; each retried attempt counts).",
		}, []string{"outcome"}),
		tokenExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: TokenExpiryName,
			Help: "Unix time at which the daemon's token expires, as of the last renewal or start-up that this worker ran. " +
				"Absent for a token that never expires or was rejected.",
		}, []string{"daemon_id"}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: WorkspaceSyncsName,
			Help: "SyncWorkspaces activity attempts by outcome: synced, rejected (token unknown, revoked or expired) or failed.",
		}, []string{"outcome"}),
		workspacesAdded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: WorkspacesAddedName,
			Help: "Workspace registrations that SyncWorkspaces added.",
		}),
		workspacesRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: WorkspacesRemovedName,
			Help: "Workspace registrations that SyncWorkspaces removed.",
		}),
	}

	// Every outcome is exported from the start, at 0, so that rate() and
	// alerts see the first increase.
	for _, outcome := range []string{daemonauth.OutcomeRenewed, daemonauth.OutcomeNotDue, daemonauth.OutcomeNeverExpires,
		daemonauth.OutcomeIdle, daemonauth.OutcomeRejected, daemonauth.OutcomeFailed} {
		m.renewals.WithLabelValues(outcome)
	}
	for _, outcome := range []string{activities.SyncSynced, activities.SyncRejected, activities.SyncFailed} {
		m.syncs.WithLabelValues(outcome)
	}

	for _, collector := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.renewals, m.tokenExpiry, m.syncs, m.workspacesAdded, m.workspacesRemoved,
	} {
		if err := registry.Register(collector); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// aggregation gives the SDK's timers, its only histograms, bounds in
// seconds, and every other instrument its default aggregation.
func aggregation(kind sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if kind == sdkmetric.InstrumentKindHistogram {
		return sdkmetric.AggregationExplicitBucketHistogram{Boundaries: timerBuckets}
	}
	return sdkmetric.DefaultAggregationSelector(kind)
}

// TemporalHandler returns the handler to set as client.Options.MetricsHandler,
// so that the SDK's metrics appear on the endpoint.
func (m *Metrics) TemporalHandler() client.MetricsHandler { return m.temporal }

// Handler returns the HTTP handler that serves the metrics in the
// Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Serve serves the metrics at /metrics on listener until ctx is done, then
// shuts the server down and returns nil. Any other end is an error.
func (m *Metrics) Serve(ctx context.Context, listener net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve metrics on %s: %w", listener.Addr(), err)
	case <-ctx.Done():
	}
	// A scrape in progress gets a few seconds to finish; ctx is already done.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("stop the metrics server on %s: %w", listener.Addr(), err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics on %s: %w", listener.Addr(), err)
	}
	return nil
}

// Close stops the OpenTelemetry meter provider.
func (m *Metrics) Close(ctx context.Context) error {
	return m.provider.Shutdown(ctx)
}

// TokenRenewal counts one RenewToken attempt.
func (m *Metrics) TokenRenewal(outcome string) {
	m.renewals.WithLabelValues(outcome).Inc()
}

// TokenExpiry sets the daemon's token expiry, or removes the daemon's
// series when expiresAt is nil.
func (m *Metrics) TokenExpiry(daemonID string, expiresAt *time.Time) {
	if expiresAt == nil {
		m.tokenExpiry.DeleteLabelValues(daemonID)
		return
	}
	m.tokenExpiry.WithLabelValues(daemonID).Set(float64(expiresAt.UnixMilli()) / 1000)
}

// WorkspacesSynced counts one SyncWorkspaces attempt and the registrations
// it changed.
func (m *Metrics) WorkspacesSynced(outcome string, added, removed int) {
	m.syncs.WithLabelValues(outcome).Inc()
	m.workspacesAdded.Add(float64(added))
	m.workspacesRemoved.Add(float64(removed))
}
