package cli

import (
	"time"

	"github.com/ferryhq/ferry/pkg/driver"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// The -o json shapes of artifact install, follow and push and of driver
// install (docs/json.md). They are copied field by field from the library
// values, so that a library field added or renamed changes no output.

// installResultView is one artifact of artifact install -o json (and of
// follow's "updated").
type installResultView struct {
	Ref             string            `json:"ref,omitempty"`
	Name            string            `json:"name"`
	Index           string            `json:"index,omitempty"`
	Type            string            `json:"type"`
	Version         string            `json:"version,omitempty"`
	Tag             string            `json:"tag,omitempty"`
	Registry        string            `json:"registry"`
	Repository      string            `json:"repository"`
	Digest          string            `json:"digest"`
	ManifestDigest  string            `json:"manifestDigest,omitempty"`
	Platform        string            `json:"platform,omitempty"`
	Dir             string            `json:"dir"`
	Files           []string          `json:"files,omitempty"`
	Status          string            `json:"status"`
	Requested       bool              `json:"requested"`
	Reasons         []string          `json:"reasons,omitempty"`
	DependsOn       []string          `json:"dependsOn,omitempty"`
	Unchecked       []requirementView `json:"uncheckedRequirements,omitempty"`
	PreviousVersion string            `json:"previousVersion,omitempty"`
	Bytes           int64             `json:"bytes"`
	DurationNs      int64             `json:"durationNs"`
	Source          string            `json:"source"`
	Unverified      bool              `json:"unverified,omitempty"`
}

// installResultViews never returns nil: an empty list prints as [].
func installResultViews(results []install.Result) []installResultView {
	out := make([]installResultView, 0, len(results))
	for _, r := range results {
		v := installResultView{
			Ref: r.Ref, Name: r.Name, Index: r.Index, Type: r.Type, Version: r.Version, Tag: r.Tag,
			Registry: r.Registry, Repository: r.Repository, Digest: r.Digest, ManifestDigest: r.ManifestDigest,
			Platform: r.Platform, Dir: r.Dir, Files: r.Files, Status: r.Status, Requested: r.Requested,
			Reasons: r.Reasons, DependsOn: r.DependsOn, PreviousVersion: r.PreviousVersion, Bytes: r.Bytes,
			DurationNs: int64(r.Duration), Source: r.Source, Unverified: r.Unverified,
		}
		for _, u := range r.Unchecked {
			v.Unchecked = append(v.Unchecked, requirementView{Name: u.Name, Version: u.Version})
		}
		out = append(out, v)
	}
	return out
}

// followCheckView is the JSON line follow prints per check.
type followCheckView struct {
	Time    time.Time           `json:"time"`
	Updated []installResultView `json:"updated"`
	Checked int                 `json:"checked"`
	Error   string              `json:"error,omitempty"`
	Next    *time.Time          `json:"next,omitempty"`
}

// pushView is artifact push -o json (and registry push's).
type pushView struct {
	Ref        string   `json:"ref"`
	Registry   string   `json:"registry"`
	Repository string   `json:"repository"`
	Type       string   `json:"type"`
	Version    string   `json:"version"`
	Digest     string   `json:"digest"`
	MediaType  string   `json:"mediaType"`
	Tags       []string `json:"tags"`
	Size       int64    `json:"size"`
	Platforms  []string `json:"platforms,omitempty"`
}

func newPushView(loc oci.Location, typ, version string, res *oci.PushResult) pushView {
	return pushView{
		Ref: loc.String() + ":" + version, Registry: loc.Registry, Repository: loc.Repository, Type: typ, Version: version,
		Digest: res.Digest.String(), MediaType: res.MediaType, Tags: res.Tags, Size: res.Size, Platforms: res.Platforms,
	}
}

// driverInstallView is driver install -o json.
type driverInstallView struct {
	Status     string              `json:"status"`
	Name       string              `json:"name"`
	Version    string              `json:"version"`
	Type       string              `json:"type"`
	Target     driverTargetView    `json:"target"`
	Note       string              `json:"note,omitempty"`
	FileName   string              `json:"fileName,omitempty"`
	URLs       []string            `json:"urls,omitempty"`
	URL        string              `json:"url,omitempty"`
	Tried      []driverAttemptView `json:"tried,omitempty"`
	Cached     bool                `json:"cached"`
	Built      bool                `json:"built"`
	Build      *driverBuildView    `json:"build,omitempty"`
	CachePath  string              `json:"cachePath,omitempty"`
	Path       string              `json:"path,omitempty"`
	Link       string              `json:"link,omitempty"`
	CacheLink  string              `json:"cacheLink,omitempty"`
	ProbeLinks []string            `json:"probeLinks,omitempty"`
	SHA256     string              `json:"sha256,omitempty"`
	Verified   string              `json:"verified,omitempty"`
	Commands   []driverCommandView `json:"commands,omitempty"`
	Loaded     bool                `json:"loaded"`
}

type driverTargetView struct {
	Distro             string   `json:"distro"`
	ID                 string   `json:"targetId"`
	Arch               string   `json:"arch"`
	KernelRelease      string   `json:"kernelRelease"`
	KernelVersion      string   `json:"kernelVersion"`
	FixedKernelRelease string   `json:"fixedKernelRelease"`
	FixedKernelVersion string   `json:"fixedKernelVersion"`
	BuildID            string   `json:"buildId,omitempty"`
	Warnings           []string `json:"warnings,omitempty"`
}

type driverAttemptView struct {
	URL          string `json:"url"`
	Error        string `json:"error"`
	NotFound     bool   `json:"notFound"`
	Unauthorized bool   `json:"unauthorized,omitempty"`
}

type driverBuildView struct {
	Method    string `json:"method"`
	SourceDir string `json:"sourceDir"`
	KernelDir string `json:"kernelDir"`
	Log       string `json:"log"`
}

func newDriverInstallView(r *driver.Result) driverInstallView {
	t := r.Target
	v := driverInstallView{
		Status: string(r.Status), Name: r.Name, Version: r.Version, Type: string(r.Type),
		Target: driverTargetView{Distro: t.Distro, ID: t.ID, Arch: t.Arch, KernelRelease: t.KernelRelease, KernelVersion: t.KernelVersion,
			FixedKernelRelease: t.FixedKernelRelease, FixedKernelVersion: t.FixedKernelVersion, BuildID: t.BuildID, Warnings: t.Warnings},
		Note: r.Note, FileName: r.FileName, URLs: r.URLs, URL: r.URL, Cached: r.Cached, Built: r.Built,
		CachePath: r.CachePath, Path: r.Path, Link: r.Link, CacheLink: r.CacheLink, ProbeLinks: r.ProbeLinks,
		SHA256: r.SHA256, Verified: r.Verified, Loaded: r.Loaded,
	}
	for _, a := range r.Tried {
		v.Tried = append(v.Tried, driverAttemptView{URL: a.URL, Error: a.Error, NotFound: a.NotFound, Unauthorized: a.Unauthorized})
	}
	if b := r.Build; b != nil {
		v.Build = &driverBuildView{Method: b.Method, SourceDir: b.SourceDir, KernelDir: b.KernelDir, Log: b.Log}
	}
	for _, c := range r.Commands {
		v.Commands = append(v.Commands, driverCommandView{Args: c.Args, When: c.When, Ran: c.Ran, Error: c.Error})
	}
	return v
}
