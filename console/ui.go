package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/hostflow/hostflow/docs"
)

// ui holds placeholder.html and, when the console was built
// (console/web → console/ui/dist), the single-page app.
//
//go:embed all:ui
var ui embed.FS

// uiHandler serves the built app, falling back to index.html for the app's
// own routes (deep links), or the placeholder when the app was not built.
func uiHandler() http.Handler {
	dist, err := fs.Sub(ui, "ui/dist")
	if err != nil {
		return placeholder()
	}
	if _, err := fs.Stat(dist, "index.html"); err != nil {
		return placeholder()
	}
	files := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if p == "" {
			p = "index.html"
		}
		if _, err := fs.Stat(dist, p); err != nil {
			// A console route such as /hosts/web-1: the app handles it.
			http.ServeFileFS(w, r, dist, "index.html")
			return
		}
		if strings.HasPrefix(p, "assets/") {
			// Vite names assets by content hash.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		files.ServeHTTP(w, r)
	})
}

func placeholder() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, ui, "ui/placeholder.html")
	})
}

// docsHandler serves the Markdown documentation: /docs/ lists the pages,
// /docs/<name> returns one as text/markdown.
func docsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/docs/")
		if name == "" {
			entries, _ := fs.ReadDir(docs.FS, ".")
			var names []string
			for _, e := range entries {
				names = append(names, strings.TrimSuffix(e.Name(), ".md"))
			}
			sort.Strings(names)
			writeJSON(w, http.StatusOK, map[string]any{"pages": names})
			return
		}
		name = strings.TrimSuffix(path.Base(name), ".md") + ".md"
		b, err := fs.ReadFile(docs.FS, name)
		if err != nil {
			writeError(w, http.StatusNotFound, "no such page")
			return
		}
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		_, _ = w.Write(b)
	})
}
