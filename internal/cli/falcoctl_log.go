package cli

import (
	"path/filepath"

	"github.com/ferryhq/ferry/internal/cli/cmdutil"
	"github.com/ferryhq/ferry/pkg/install"
)

// printResultLog prints an install result as one JSON log line on stdout,
// with --log-format=json and text output: the lines of a pod's log (stdout
// and stderr together) then all parse, as falcoctl's do. The fields are
// falcoctl's ("Artifact successfully installed", name, type, digest,
// directory) and ferry's (version, previousVersion, files, status).
func printResultLog(d commandDeps, r install.Result) {
	msg := "Artifact successfully installed"
	switch r.Status {
	case install.StatusUpToDate:
		msg = "Artifact up to date"
	case install.StatusWouldUpdate:
		msg = "Artifact would be installed"
	}
	name := r.Name
	if r.Index != "" {
		name = r.Index + "/" + r.Name
	}
	files := make([]string, 0, len(r.Files))
	for _, file := range r.Files {
		files = append(files, filepath.Join(r.Dir, file))
	}
	attrs := map[string]any{
		"name": name, "version": r.Version, "type": r.Type, "digest": r.Digest, "directory": r.Dir,
		"status": r.Status, "files": files,
	}
	if r.PreviousVersion != "" && r.PreviousVersion != r.Version {
		attrs["previousVersion"] = r.PreviousVersion
	}
	if r.Platform != "" {
		attrs["platform"] = r.Platform
	}
	_ = cmdutil.WriteLogLine(d.IO.Out, "INFO", msg, attrs)
}
