// Package ferry holds what the ferry binary embeds: the default artifact index.
package ferry

import _ "embed"

// DefaultIndex is artifacts.yaml, the index named "default": the official Falco
// artifacts. Treat it as read-only.
//
//go:embed artifacts.yaml
var DefaultIndex []byte
