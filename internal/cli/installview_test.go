package cli

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ferryhq/ferry/pkg/driver"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/oci"
)

// fill sets every exported field of v (a pointer) to a value that is not
// zero, so that omitempty drops nothing.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	}
}

func jsonOf(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The views print what the library values printed as they were: the same
// field names, the same values, nothing missing, nothing more.
func TestViewsKeepTheirFieldNames(t *testing.T) {
	var r install.Result
	fill(reflect.ValueOf(&r))
	if got, want := jsonOf(t, installResultViews([]install.Result{r})[0]), jsonOf(t, r); !reflect.DeepEqual(got, want) {
		t.Errorf("install view\n got %v\nwant %v", got, want)
	}

	var d driver.Result
	fill(reflect.ValueOf(&d))
	if got, want := jsonOf(t, newDriverInstallView(&d)), jsonOf(t, &d); !reflect.DeepEqual(got, want) {
		t.Errorf("driver install view\n got %v\nwant %v", got, want)
	}

	res := &oci.PushResult{Digest: digest.FromString("x"), MediaType: "m", Tags: []string{"1.0.0"}, Size: 7, Platforms: []string{"linux/amd64"}}
	loc := oci.Location{Registry: "r", Repository: "a/b"}
	want := map[string]any{"ref": "r/a/b:1.0.0", "registry": "r", "repository": "a/b", "type": "rulesfile", "version": "1.0.0",
		"digest": res.Digest.String(), "mediaType": "m", "tags": []any{"1.0.0"}, "size": 7.0, "platforms": []any{"linux/amd64"}}
	if got := jsonOf(t, newPushView(loc, "rulesfile", "1.0.0", res)); !reflect.DeepEqual(got, want) {
		t.Errorf("push view\n got %v\nwant %v", got, want)
	}

	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	got := jsonOf(t, followCheckView{Time: now, Updated: installResultViews(nil), Checked: 2})
	if want := map[string]any{"time": "2026-12-02T00:00:00Z", "updated": []any{}, "checked": 2.0}; !reflect.DeepEqual(got, want) {
		t.Errorf("follow view\n got %v\nwant %v", got, want)
	}
}
