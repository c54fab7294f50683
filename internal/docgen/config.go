// Package docgen writes the reference documents derived from the code: the
// configuration reference (from the configuration structs, their doc
// comments and the defaults) and the metrics reference (from the metrics the
// components register). A test keeps docs/ in step with the code.
package docgen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// fieldDocs maps "import/path.Type" → field name → doc comment, read from
// the module's sources.
type fieldDocs map[string]map[string]string

func readFieldDocs(root, module string) (fieldDocs, error) {
	docs := fieldDocs{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", ".git", "web":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := module
		if rel != "." {
			pkg += "/" + filepath.ToSlash(rel)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			m := map[string]string{}
			for _, fld := range st.Fields.List {
				text := ""
				if fld.Doc != nil {
					text = fld.Doc.Text()
				} else if fld.Comment != nil {
					text = fld.Comment.Text()
				}
				for _, name := range fld.Names {
					m[name.Name] = text
				}
				if len(fld.Names) == 0 { // embedded
					if id := embeddedName(fld.Type); id != "" {
						m[id] = text
					}
				}
			}
			docs[pkg+"."+ts.Name.Name] = m
			return true
		})
		return nil
	})
	return docs, err
}

func embeddedName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.SelectorExpr:
		return t.Sel.Name
	case *ast.StarExpr:
		return embeddedName(t.X)
	}
	return ""
}

// row is one configuration key.
type row struct {
	key, typ, def, doc string
}

// ConfigReference renders the reference of cfg (the defaults) as Markdown.
// root is the module's directory and module its import path.
func ConfigReference(root, module string, cfg any) (string, error) {
	docs, err := readFieldDocs(root, module)
	if err != nil {
		return "", err
	}
	var defaults map[string]any
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	if err := yaml.Unmarshal(b, &defaults); err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString("# Configuration reference\n\n")
	sb.WriteString("Generated from the configuration structs and their defaults (`go test ./internal/docgen -update`);\n")
	sb.WriteString("do not edit by hand. One YAML file configures every role; each role reads the sections it uses\n")
	sb.WriteString("(`agent` for the agent; `inlet`, `sflow`, `netflow`, `enrich`, `store`, `query`, `console` for the\n")
	sb.WriteString("collector; all of them for standalone). Every key is optional. `hostflow config defaults` prints\n")
	sb.WriteString("the defaults, `hostflow config check FILE` validates a file (errors name the file, line and key).\n")
	sb.WriteString("Durations take `s`, `m`, `h` and `d` suffixes where marked *duration*.\n")
	t := reflect.TypeOf(cfg)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		fmt.Fprintf(&sb, "\n## `%s`\n\n", name)
		if text := docs[t.PkgPath()+"."+t.Name()][f.Name]; text != "" {
			sb.WriteString(oneLine(text) + "\n\n")
		}
		var rows []row
		walk(docs, f.Type, name, defaults[name], &rows)
		sb.WriteString("| key | type | default | description |\n|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&sb, "| `%s` | %s | %s | %s |\n", r.key, r.typ, r.def, r.doc)
		}
	}
	return sb.String(), nil
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func inline(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return strings.Contains(opts, "inline")
}

// walk adds a row per leaf key of struct type t at path prefix.
func walk(docs fieldDocs, t reflect.Type, prefix string, def any, rows *[]row) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	defs, _ := def.(map[string]any)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("yaml") == "-" {
			continue
		}
		if inline(f) || (f.Anonymous && f.Tag.Get("yaml") == "") {
			walk(docs, f.Type, prefix, def, rows)
			continue
		}
		name := yamlName(f)
		key := prefix + "." + name
		doc := oneLine(docs[t.PkgPath()+"."+t.Name()][f.Name])
		ft := f.Type
		if isPlainStruct(ft) {
			walk(docs, ft, key, defs[name], rows)
			continue
		}
		*rows = append(*rows, row{key: key, typ: typeName(ft), def: defaultText(defs[name]), doc: doc})
	}
}

// isPlainStruct is a struct decoded key by key (not a scalar-like type with
// its own YAML form).
func isPlainStruct(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) {
		return false
	}
	return t.PkgPath() != "time" && t.PkgPath() != "net/netip"
}

func typeName(t reflect.Type) string {
	switch {
	case t.String() == "time.Duration" || strings.HasSuffix(t.String(), ".Duration"):
		return "duration"
	case strings.HasSuffix(t.String(), ".ByteSize"):
		return "size"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if isPlainStruct(t.Elem()) {
			return "list of objects"
		}
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	}
	return t.Kind().String()
}

func defaultText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if x == "" {
			return `""`
		}
		return "`" + x + "`"
	case []any:
		if len(x) == 0 {
			return "`[]`"
		}
	case map[string]any:
		if len(x) == 0 {
			return "`{}`"
		}
	}
	// Lists and maps on one line, in flow style.
	var n yaml.Node
	_ = n.Encode(v)
	setFlow(&n)
	b, _ := yaml.Marshal(&n)
	return "`" + strings.ReplaceAll(strings.TrimSpace(string(b)), "|", `\|`) + "`"
}

func setFlow(n *yaml.Node) {
	n.Style = yaml.FlowStyle
	for _, c := range n.Content {
		setFlow(c)
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// sortedKeys is used by the metrics reference.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
