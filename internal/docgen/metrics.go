package docgen

import (
	"fmt"
	"strings"

	"github.com/hostflow/hostflow/internal/daemon"
)

// MetricsReference renders every metric registered on r as Markdown, one
// table per component.
func MetricsReference(metrics []daemon.MetricInfo) string {
	groups := map[string][]daemon.MetricInfo{}
	for _, m := range metrics {
		comp := strings.TrimPrefix(m.Name, "hostflow_")
		comp, _, _ = strings.Cut(comp, "_")
		groups[comp] = append(groups[comp], m)
	}
	var sb strings.Builder
	sb.WriteString("# Metrics reference\n\n")
	sb.WriteString("Generated from the metrics the components register (`go test ./internal/docgen -update`); do not\n")
	sb.WriteString("edit by hand. Every role serves them at `/metrics` (the `http.listen` address; the collector also\n")
	sb.WriteString("on the console port), with the Go runtime and process metrics. Every drop has a `reason` label.\n")
	for _, comp := range sortedKeys(groups) {
		fmt.Fprintf(&sb, "\n## %s\n\n| metric | labels | description |\n|---|---|---|\n", comp)
		for _, m := range groups[comp] {
			fmt.Fprintf(&sb, "| `%s` | %s | %s |\n", m.Name, strings.Join(m.Labels, ", "), oneLine(m.Help))
		}
	}
	return sb.String()
}
