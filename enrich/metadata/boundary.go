package metadata

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/hostflow/hostflow/flow"
)

// Boundary is an interface boundary in configuration files: external,
// internal, or undefined (the default).
type Boundary uint8

// ParseBoundary parses a boundary name.
func ParseBoundary(s string) (Boundary, error) {
	switch s {
	case "", "undefined":
		return Boundary(flow.BoundaryUndefined), nil
	case "external":
		return Boundary(flow.BoundaryExternal), nil
	case "internal":
		return Boundary(flow.BoundaryInternal), nil
	}
	return 0, fmt.Errorf("boundary %q: want external, internal or undefined", s)
}

// String returns the boundary name.
func (b Boundary) String() string {
	switch uint8(b) {
	case flow.BoundaryExternal:
		return "external"
	case flow.BoundaryInternal:
		return "internal"
	}
	return "undefined"
}

// UnmarshalYAML reads a boundary name, reporting errors with their line.
func (b *Boundary) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseBoundary(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want external, internal or undefined, not %q", n.Line, n.Value)
	}
	*b = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b Boundary) MarshalText() ([]byte, error) { return []byte(b.String()), nil }
