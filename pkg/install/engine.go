package install

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/Masterminds/semver/v3"

	ferryhttp "github.com/ferryhq/ferry/internal/http"
	"github.com/ferryhq/ferry/pkg/errdef"
)

// maxVersionsDoc bounds the engine's versions document.
const maxVersionsDoc = 1 << 20

// ReadEngine reads the versions the engine declares from url, Falco's
// webserver /versions endpoint (http://localhost:8765/versions): a JSON
// object whose string and number values are versions
// (engine_version_semver, plugin_api_version, engine_version...); other
// values are ignored. An empty object gives an empty Engine.
func ReadEngine(ctx context.Context, hc *http.Client, url string) (Engine, error) {
	data, err := ferryhttp.ReadURL(ctx, hc, url, maxVersionsDoc)
	if err != nil {
		return nil, fmt.Errorf("reading engine versions: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading engine versions from %s: %w", url, err)
	}
	engine := Engine{}
	for k, v := range doc {
		if s, ok := v.(string); ok && s != "" {
			engine[k] = s
		} else if n, ok := v.(float64); ok {
			engine[k] = strconv.FormatFloat(n, 'f', -1, 64)
		}
	}
	return engine, nil
}

// CheckEngineVersion accepts what Falco's /versions reports: a semantic
// version (0.41.0, 3.7.0) or an integer (engine_version 31). Its error
// matches errdef.ErrInvalid.
func CheckEngineVersion(v string) error {
	if _, err := strconv.Atoi(v); err == nil {
		return nil
	}
	if _, err := semver.NewVersion(v); err != nil {
		return errdef.Wrap(errdef.ErrInvalid, fmt.Errorf("%q is not a version (want a semantic version like 0.41.0, or an integer)", v))
	}
	return nil
}
