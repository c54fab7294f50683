// Package docs embeds the user documentation so the console can serve it.
package docs

import "embed"

// FS holds every Markdown file of this directory.
//
//go:embed *.md
var FS embed.FS
