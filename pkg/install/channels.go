package install

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferryhq/ferry/pkg/index"
	"github.com/ferryhq/ferry/pkg/oci"
)

// Channel is one place an artifact can be fetched from: an OCI repository
// (the primary or a mirror) or an HTTP URL template.
type Channel struct {
	Location oci.Location
	// URL is an HTTP mirror's template, with {name}, {version}, {os},
	// {arch} and {ext} placeholders.
	URL string
}

func (c Channel) String() string {
	if c.URL != "" {
		return c.URL
	}
	if c.Location.IsLayout() {
		return c.Location.String()
	}
	return "oci://" + c.Location.String()
}

// HostMirrors returns the mirror hosts configured for a registry host: those
// tried before it and those tried only after it.
type HostMirrors func(host string) (before, after []string)

// channelsFor lists the channels of an artifact in the order they are
// tried: configured host mirrors (before), the primary, the index entry's
// OCI mirrors, configured host mirrors (fallback only), the entry's HTTP
// mirrors.
func channelsFor(primary oci.Location, entry *index.Entry, hm HostMirrors) []Channel {
	var before, after []string
	if hm != nil {
		before, after = hm(primary.Registry)
	}
	var out []Channel
	add := func(c Channel) {
		for _, o := range out {
			if o == c {
				return
			}
		}
		out = append(out, c)
	}
	for _, h := range before {
		add(Channel{Location: oci.Location{Registry: h, Repository: primary.Repository}})
	}
	add(Channel{Location: primary})
	var urls []string
	if entry != nil {
		for _, m := range entry.Mirrors {
			switch {
			case m.URL != "":
				urls = append(urls, m.URL)
			case m.Registry != "":
				add(Channel{Location: oci.Location{Registry: m.Registry, Repository: m.Repository}})
			}
		}
	}
	for _, h := range after {
		add(Channel{Location: oci.Location{Registry: h, Repository: primary.Repository}})
	}
	for _, u := range urls {
		add(Channel{URL: u})
	}
	return out
}

// ChannelsError reports that every channel failed, and why each did.
type ChannelsError struct {
	Op       string
	Channels []Channel
	Errs     []error
}

func (e *ChannelsError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		parts[i] = fmt.Sprintf("%s: %v", e.Channels[i], err)
	}
	return fmt.Sprintf("%s failed on every channel: %s", e.Op, strings.Join(parts, "; "))
}

// Unwrap exposes each channel's error to errors.Is and errors.As.
func (e *ChannelsError) Unwrap() []error { return e.Errs }

// onChannels runs fn on each OCI channel in order until one succeeds, and
// reports which one did through served (when not nil). With a single
// channel its error is returned as is.
func onChannels[T any](ctx context.Context, chs []Channel, op string, fn func(oci.Location) (T, error), served ...func(Channel)) (T, error) {
	var zero T
	ce := &ChannelsError{Op: op}
	for i, ch := range chs {
		if ch.URL != "" || slices.Contains(chs[:i], ch) {
			continue
		}
		v, err := fn(ch.Location)
		if err == nil {
			for _, s := range served {
				s(ch)
			}
			return v, nil
		}
		if ctx.Err() != nil {
			return zero, err
		}
		ce.Channels, ce.Errs = append(ce.Channels, ch), append(ce.Errs, err)
	}
	switch len(ce.Errs) {
	case 0:
		return zero, errors.New(op + ": no OCI channel")
	case 1:
		return zero, ce.Errs[0]
	}
	return zero, ce
}

// expandURL fills an HTTP mirror template. {arch} is the OCI architecture
// (amd64, arm64), {machine} the kernel's name for it (x86_64, aarch64), as
// download.falco.org names plugin files.
func expandURL(tmpl, name, version, platform string) string {
	os, arch, _ := strings.Cut(platform, "/")
	machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch]
	if machine == "" {
		machine = arch
	}
	return strings.NewReplacer("{name}", name, "{version}", version, "{os}", os, "{arch}", arch, "{machine}", machine, "{ext}", "tar.gz").Replace(tmpl)
}
