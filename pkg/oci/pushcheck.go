package oci

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/index"
)

// Field names the part of a PushRequest a FieldError is about.
type Field string

// The fields of a PushRequest that Validate checks.
const (
	FieldType         Field = "type"         // PushRequest.Type
	FieldVersion      Field = "version"      // PushRequest.Config.Version
	FieldSourceRepo   Field = "sourceRepo"   // PushRequest.SourceRepo
	FieldDependencies Field = "dependencies" // PushRequest.Config.Dependencies
	FieldRequirements Field = "requirements" // PushRequest.Config.Requirements
	FieldPlatform     Field = "platform"     // a LayerFile's Platform
	FieldFiles        Field = "files"        // PushRequest.Files, a LayerFile's Path
)

// FieldError is a PushRequest value that Validate refuses, and which field
// holds it, so that a caller can say where the value came from (a CLI
// names its flag). Its message is Err's.
type FieldError struct {
	Field Field
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(f Field, err error) error {
	if err == nil {
		return nil
	}
	return &FieldError{Field: f, Err: err}
}

// Validate checks, before anything is read or sent, that req can be pushed
// to loc: a known type; a version that is strict semver X.Y.Z[-PRE] and
// that a tag can hold; one regular file (a plugin: one per platform, each
// OS/ARCH); dependencies and requirements with names and versions; a
// SourceRepo whose ORG/REPO namespaces the repository (unless
// SourceUnchecked). Its errors match errdef.ErrInvalid, except a file
// that does not exist: errdef.ErrNotFound; each is a *FieldError naming
// the field at fault.
func (req *PushRequest) Validate(loc Location) error {
	err := req.validate(loc)
	if errors.Is(err, fs.ErrNotExist) {
		return errdef.Wrap(errdef.ErrNotFound, err)
	}
	return errdef.Wrap(errdef.ErrInvalid, err)
}

func (req *PushRequest) validate(loc Location) error {
	if err := ValidType(req.Type); err != nil {
		return fieldErr(FieldType, err)
	}
	v := req.Config.Version
	if v == "" {
		return fieldErr(FieldVersion, errors.New("a version is required"))
	}
	if _, err := semver.StrictNewVersion(v); err != nil {
		return fieldErr(FieldVersion, fmt.Errorf("version %q is not strict semver X.Y.Z[-PRE]", v))
	}
	if err := ValidVersionTag(v); err != nil {
		return fieldErr(FieldVersion, err)
	}
	if req.SourceRepo != "" && !req.SourceUnchecked {
		if err := index.CheckNamespace(req.SourceRepo, loc.Repository); err != nil {
			return fieldErr(FieldSourceRepo, err)
		}
	}
	for _, d := range req.Config.Dependencies {
		for _, alt := range append([]Alternative{{Name: d.Name, Version: d.Version}}, d.Alternatives...) {
			if alt.Name == "" {
				return fieldErr(FieldDependencies, fmt.Errorf("dependency %q: a name is required", alt.Version))
			}
			if _, err := semver.NewVersion(alt.Version); err != nil {
				return fieldErr(FieldDependencies, fmt.Errorf("dependency %s: %q is not a version", alt.Name, alt.Version))
			}
		}
	}
	for _, r := range req.Config.Requirements {
		if r.Name == "" || r.Version == "" {
			return fieldErr(FieldRequirements, fmt.Errorf("requirement %q: want a name and a version", r.Name+":"+r.Version))
		}
	}
	return req.validateFiles()
}

func (req *PushRequest) validateFiles() error {
	plugin := req.Type == TypePlugin
	if len(req.Files) == 0 {
		return fieldErr(FieldFiles, errors.New("nothing to push: no file given"))
	}
	if !plugin && slices.ContainsFunc(req.Files, func(f LayerFile) bool { return f.Platform != "" }) {
		return fieldErr(FieldPlatform, fmt.Errorf("a platform applies to plugins only, not to a %s", req.Type))
	}
	if !plugin && len(req.Files) != 1 {
		return fieldErr(FieldFiles, fmt.Errorf("a %s is one file, got %d", req.Type, len(req.Files)))
	}
	for _, f := range req.Files {
		switch {
		case plugin && f.Platform == "":
			return fieldErr(FieldPlatform, fmt.Errorf("a plugin needs one platform per file: %s has none", f.Path))
		case plugin && !validPlatform(f.Platform):
			return fieldErr(FieldPlatform, fmt.Errorf("platform %q: want OS/ARCH", f.Platform))
		}
		fi, err := os.Stat(f.Path)
		if err != nil {
			return fieldErr(FieldFiles, err)
		}
		if !fi.Mode().IsRegular() {
			// A device or a FIFO would be read without end.
			return fieldErr(FieldFiles, fmt.Errorf("%s is not a regular file but %s", f.Path, fileKind(fi.Mode())))
		}
	}
	return nil
}

func validPlatform(p string) bool {
	os, arch, ok := strings.Cut(p, "/")
	return ok && os != "" && arch != "" && !strings.Contains(arch, "/")
}

// Complete fills in what a push of req to loc takes by default, as
// falcoctl does: the config's name (the repository's last element), and,
// for a plain rules file, the dependencies and requirements it declares
// (required_plugin_versions, required_engine_version), those already in
// the config winning by name. Call it after Validate. A rules file that
// cannot be read or parsed is an error matching errdef.ErrInvalid.
func (req *PushRequest) Complete(ctx context.Context, loc Location) error {
	if req.Config.Name == "" {
		req.Config.Name = loc.Repository[strings.LastIndex(loc.Repository, "/")+1:]
	}
	if req.Type != TypeRulesfile || len(req.Files) != 1 {
		return nil
	}
	err := mergeRulesRequirements(ctx, &req.Config, req.Files[0].Path)
	if err != nil && ctx.Err() == nil {
		return errdef.Wrap(errdef.ErrInvalid, err)
	}
	return err
}

// mergeRulesRequirements adds what a plain rules file declares to cfg;
// dependencies and requirements already there win by name. The file is
// read as a stream: only the items that declare requirements are parsed.
func mergeRulesRequirements(ctx context.Context, cfg *Config, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return nil // an archive: its content is the publisher's business
	}
	deps, reqs, err := RulesRequirementsFrom(ctx, br)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, d := range deps {
		if !slices.ContainsFunc(cfg.Dependencies, func(x Dependency) bool { return x.Name == d.Name }) {
			cfg.Dependencies = append(cfg.Dependencies, d)
		}
	}
	for _, r := range reqs {
		if !slices.ContainsFunc(cfg.Requirements, func(x Requirement) bool { return x.Name == r.Name }) {
			cfg.Requirements = append(cfg.Requirements, r)
		}
	}
	return nil
}

// fileKind names what a file that is not a regular one is.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "a special file (" + m.Type().String() + ")"
}
