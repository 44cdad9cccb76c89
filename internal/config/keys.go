package config

import (
	"maps"
	"slices"
)

// Keys returns every configuration key, sorted. Every key has a default, so
// the list is complete.
func Keys() []string {
	return slices.Sorted(maps.Keys(defaults))
}

// EnvNames returns the environment variables that set key, in the order of
// their precedence: EnvName(key), then the temporal CLI's variable for the
// keys that have one (TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE).
func EnvNames(key string) []string {
	names := []string{EnvName(key)}
	if name, ok := temporalEnv[key]; ok {
		names = append(names, name)
	}
	return names
}
