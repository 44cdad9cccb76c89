//go:build reliability

package reliability

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"text/tabwriter"
)

// figures holds the values that the tests record for the summary printed
// at the end of the run.
var figures = struct {
	sync.Mutex
	values map[string]any
}{values: map[string]any{}}

// recordFigure sets a figure of the summary. Tests running in parallel may
// call it. Names are sorted when printed, so a shared prefix groups the
// figures of one test, for example "faults.kill.points_tried". Recording a
// name again replaces its value.
func recordFigure(name string, value any) {
	figures.Lock()
	defer figures.Unlock()
	figures.values[name] = value
}

// printSummary writes every recorded figure, sorted by name.
func printSummary(w io.Writer) {
	figures.Lock()
	defer figures.Unlock()

	names := slices.Sorted(maps.Keys(figures.values))
	fmt.Fprintf(w, "\nReliability summary (%d figures)\n", len(names))
	table := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range names {
		fmt.Fprintf(table, "  %s\t%v\n", name, figures.values[name])
	}
	table.Flush()
}
