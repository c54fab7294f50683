// Package config loads YAML configuration strictly: unknown keys and bad
// values are errors that name the file, the line and the key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Validator is implemented by configuration structs that check their values
// after decoding. Errors should be FieldErrors so they can be located.
type Validator interface {
	Validate() error
}

// FieldError is a bad value at a dotted key path ("exporter.collectors.0").
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return "key " + e.Key + ": " + e.Msg }

// Errorf returns a FieldError for key.
func Errorf(key, format string, args ...any) error {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Prefix prepends prefix to the key of every FieldError in err (for nested
// Validate calls).
func Prefix(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var out []error
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, &FieldError{Key: prefix + "." + fe.Key, Msg: fe.Msg})
		} else {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// Load reads the YAML file at path into dst, which should already hold the
// defaults; keys absent from the file keep them.
func Load(path string, dst any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, dst)
}

var lineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// Parse decodes data (named name in errors) into dst strictly and validates
// it when dst implements Validator.
func Parse(name string, data []byte, dst any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return locate(name, nil, err)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(dst); err != nil {
			return locate(name, &root, err)
		}
	}
	if v, ok := dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			return locate(name, &root, err)
		}
	}
	return nil
}

// locate rewrites decoder and validation errors as "file:line: key k: msg".
func locate(name string, root *yaml.Node, err error) error {
	var msgs []string
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		for _, m := range te.Errors {
			msgs = append(msgs, fromLine(name, root, m))
		}
	default:
		for _, e := range unjoin(err) {
			var fe *FieldError
			if errors.As(e, &fe) {
				line := findKey(root, fe.Key)
				if line > 0 {
					msgs = append(msgs, fmt.Sprintf("%s:%d: %s", name, line, fe.Error()))
				} else {
					msgs = append(msgs, fmt.Sprintf("%s: %s", name, fe.Error()))
				}
				continue
			}
			msgs = append(msgs, fromLine(name, root, strings.TrimPrefix(e.Error(), "yaml: ")))
		}
	}
	return &Error{Messages: msgs}
}

// Error lists every problem found in one file.
type Error struct{ Messages []string }

func (e *Error) Error() string { return strings.Join(e.Messages, "\n") }

func fromLine(name string, root *yaml.Node, msg string) string {
	m := lineRe.FindStringSubmatch(msg)
	if m == nil {
		return name + ": " + msg
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	if key := keyAtLine(root, line); key != "" {
		text = "key " + key + ": " + text
	}
	return fmt.Sprintf("%s:%d: %s", name, line, text)
}

// keyAtLine returns the dotted path of the mapping key or sequence item at line.
func keyAtLine(root *yaml.Node, line int) string {
	var found string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n == nil || found != "" {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := join(path, k.Value)
				if k.Line == line {
					found = p
					return
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := join(path, strconv.Itoa(i))
				if c.Line == line && c.Kind == yaml.ScalarNode {
					found = p
					return
				}
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return found
}

// findKey returns the line of the dotted key path, or of its closest
// existing ancestor, or 0.
func findKey(root *yaml.Node, key string) int {
	if root == nil {
		return 0
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(key, ".") {
		next := (*yaml.Node)(nil)
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
