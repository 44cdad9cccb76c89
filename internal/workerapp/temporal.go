package workerapp

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/log"

	"daemonauth/internal/config"
)

// ClientOptions returns the options of a Temporal client for cfg. The TLS
// settings, API key, gRPC metadata and authority come from the temporal CLI
// profile in cfg.Temporal.Profile. The address and namespace come from cfg,
// where config.Load has already made them fall back to the profile's. The
// profile's remote codec is left out because a worker would call it on
// every replay.
func ClientOptions(cfg config.Config, logger log.Logger) (client.Options, error) {
	options, err := cfg.Temporal.Profile.Client.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal CLI profile %q in %s: %w", cfg.Temporal.Profile.Name, cfg.Temporal.Profile.File, err)
	}
	options.HostPort = cfg.Temporal.Address
	options.Namespace = cfg.Temporal.Namespace
	options.Logger = logger
	return options, nil
}

// UsesTLS reports whether a client for cfg connects with TLS, which the
// profile's TLS settings or an API key turn on.
func UsesTLS(cfg config.Config) bool {
	options, err := ClientOptions(cfg, nil)
	return err == nil && options.ConnectionOptions.TLS != nil
}

// DialTemporal connects to the Temporal frontend and namespace in cfg, with
// the options that ClientOptions returns.
func DialTemporal(ctx context.Context, cfg config.Config, logger log.Logger, options ...Option) (client.Client, error) {
	clientOptions, err := ClientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	if s := apply(options); s.metrics != nil {
		clientOptions.MetricsHandler = s.metrics.TemporalHandler()
	}

	c, err := client.DialContext(ctx, clientOptions)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (temporal.address), namespace %s: %w", cfg.Temporal.Address, cfg.Temporal.Namespace, err)
	}
	return c, nil
}
