package events

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cdevents/sdk-go/pkg/api"
	v04 "github.com/cdevents/sdk-go/pkg/api/v04"
	v05 "github.com/cdevents/sdk-go/pkg/api/v05"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The sdk copy in third_party compiles its schemas on first use instead of
// at init: an event still goes through the spec's JSON schema, so an event
// that only the schema forbids is rejected, by both specs, and concurrent
// first uses are safe.
func TestSDKValidatesAgainstTheSchemaCompiledOnFirstUse(t *testing.T) {
	type event interface {
		api.CDEvent
		SetSubjectUser(string)
	}
	for name, newEvent := range map[string]func() (event, error){
		"0.5 downloaded": func() (event, error) { return v05.NewArtifactDownloadedEvent() },
		"0.5 published":  func() (event, error) { return v05.NewArtifactPublishedEvent() },
		"0.4 downloaded": func() (event, error) { return v04.NewArtifactDownloadedEvent() },
		"0.4 published":  func() (event, error) { return v04.NewArtifactPublishedEvent() },
	} {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					ev, err := newEvent()
					if err != nil {
						t.Error(err)
						return
					}
					ev.SetSource("ferry/test")
					ev.SetTimestamp(time.Now())
					ev.SetSubjectId("pkg:oci/falco-rules@sha256%3Aabc")
					if err := api.Validate(ev); err != nil {
						t.Errorf("a valid event: %v", err)
					}
					// The sdk's struct tags allow an empty subject id; the
					// schema's minLength does not.
					ev.SetSubjectId("")
					err = api.Validate(ev)
					var verr *jsonschema.ValidationError
					if !errors.As(err, &verr) {
						t.Errorf("an event with an empty subject id: got %v, want a schema validation error", err)
					}
				})
			}
			wg.Wait()
		})
	}
}
