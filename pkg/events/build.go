package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/cdevents/sdk-go/pkg/api"
	v04 "github.com/cdevents/sdk-go/pkg/api/v04"
	v05 "github.com/cdevents/sdk-go/pkg/api/v05"
	cloudevents "github.com/cloudevents/sdk-go/v2"
)

const (
	kindDownloaded = "downloaded"
	kindPublished  = "published"
)

// CustomData is the customData of ferry's events (content type
// application/json). Fields ferry does not know are omitted.
type CustomData struct {
	Index      string  `json:"index,omitempty"`
	Name       string  `json:"name,omitempty"`
	Version    string  `json:"version,omitempty"`
	Constraint string  `json:"constraint,omitempty"`
	Ref        string  `json:"ref,omitempty"`
	Registry   string  `json:"registry"`
	Repository string  `json:"repository"`
	Tag        string  `json:"tag,omitempty"`
	Digest     string  `json:"digest"`
	ServedBy   string  `json:"servedBy,omitempty"`
	Path       string  `json:"path,omitempty"`
	Platform   string  `json:"platform,omitempty"`
	Bytes      int64   `json:"bytes"`
	DurationMs float64 `json:"durationMs"`
}

func customData(a Artifact) CustomData {
	return CustomData{
		Index: a.Index, Name: a.Name, Version: a.Version, Constraint: a.Constraint, Ref: a.Ref,
		Registry: a.Registry, Repository: a.Repository, Tag: a.Tag, Digest: a.Digest,
		ServedBy: a.ServedBy, Path: a.Path, Platform: a.Platform, Bytes: a.Bytes,
		DurationMs: math.Round(float64(a.Duration.Microseconds())) / 1000,
	}
}

// cdevent is what every event type of the sdk lets ferry set.
type cdevent interface {
	api.CDEvent
	SetSubjectUser(string)
}

// build makes the CDEvent for a, validates it (api.AsCloudEvent runs
// api.Validate: the spec's JSON schema and the sdk's constraints, the purl
// included) and renders it as a CloudEvent whose time is the CDEvent's
// timestamp. raw is the structured JSON form, one line.
func (e *Emitter) build(kind string, a Artifact) (*cloudevents.Event, []byte, error) {
	id, err := PURL(a)
	if err != nil {
		return nil, nil, err
	}
	var ev cdevent
	switch e.spec + "/" + kind {
	case Spec05 + "/" + kindDownloaded:
		ev, err = v05.NewArtifactDownloadedEvent()
	case Spec05 + "/" + kindPublished:
		ev, err = v05.NewArtifactPublishedEvent()
	case Spec04 + "/" + kindDownloaded:
		ev, err = v04.NewArtifactDownloadedEvent()
	case Spec04 + "/" + kindPublished:
		ev, err = v04.NewArtifactPublishedEvent()
	default:
		return nil, nil, fmt.Errorf("events: no %s event for spec %s", kind, e.spec)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("creating %s event: %w", kind, err)
	}
	user := a.User
	if user == "" {
		user = e.user
	}
	ev.SetSource(e.source)
	ev.SetTimestamp(e.now().UTC())
	ev.SetSubjectId(id)
	ev.SetSubjectUser(user)
	if err := ev.SetCustomData(cloudevents.ApplicationJSON, customData(a)); err != nil {
		return nil, nil, fmt.Errorf("%s event for %s: %w", kind, id, err)
	}
	ce, err := api.AsCloudEvent(ev)
	if err != nil {
		return nil, nil, fmt.Errorf("%s event for %s: %w", kind, id, err)
	}
	ce.SetTime(ev.GetTimestamp())
	if err := ce.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s event for %s: %w", kind, id, err)
	}
	raw, err := compactJSON(ce)
	if err != nil {
		return nil, nil, fmt.Errorf("%s event for %s: %w", kind, id, err)
	}
	return ce, raw, nil
}

func compactJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return unescapeHTML(buf.Bytes()), nil
}

// unescapeHTML undoes encoding/json's HTML escaping (\u0026, \u003c,
// \u003e) in valid JSON, so that purls read as written in the events file.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) {
			switch strings.ToLower(string(b[i+2 : i+6])) {
			case "0026":
				out = append(out, '&')
				i += 5
				continue
			case "003c":
				out = append(out, '<')
				i += 5
				continue
			case "003e":
				out = append(out, '>')
				i += 5
				continue
			}
		}
		// Any other escape is copied whole, so an escaped backslash
		// followed by "u0026" stays as it was.
		out = append(out, c, b[i+1])
		i++
	}
	return out
}
