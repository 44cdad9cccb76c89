package record

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"

	"daemonauth/activities"
)

const (
	activitiesExtension = activities.DefaultExtension
	activitiesThreshold = activities.DefaultThreshold
	// recorderIdentity replaces every identity in an exported history.
	recorderIdentity = "history-recorder"
)

// exportHistory writes a run's history as the temporal CLI prints it with
// --output json, which is also what a user exports from their own cluster.
func exportHistory(ctx context.Context, cli, address, workflowID, runID, path string) error {
	cmd := exec.CommandContext(ctx, cli, "workflow", "show", "--address", address,
		"--workflow-id", workflowID, "--run-id", runID, "--output", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("temporal workflow show %s: %w\n%s", workflowID, err, stderr.String())
	}

	normalized, err := normalize(stdout.Bytes())
	if err != nil {
		return fmt.Errorf("normalize history of %s: %w", workflowID, err)
	}
	return os.WriteFile(path, normalized, 0o644)
}

// normalize replaces the identities of the clients and workers and the
// names of the workers' sticky task queues, which name the recording
// machine and process, with fixed values. The replayer reads neither.
func normalize(history []byte) ([]byte, error) {
	var doc any
	if err := json.Unmarshal(history, &doc); err != nil {
		return nil, err
	}
	replaceIdentities(doc)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func replaceIdentities(node any) {
	switch v := node.(type) {
	case map[string]any:
		if v["kind"] == "TASK_QUEUE_KIND_STICKY" {
			v["name"] = recorderIdentity + "-sticky"
		}
		for key, child := range v {
			if key == "identity" {
				if _, ok := child.(string); ok {
					v[key] = recorderIdentity
					continue
				}
			}
			replaceIdentities(child)
		}
	case []any:
		for _, child := range v {
			replaceIdentities(child)
		}
	}
}
