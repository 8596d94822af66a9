package install

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/Masterminds/semver/v3"

	"github.com/ferryhq/ferry/pkg/errdef"
	"github.com/ferryhq/ferry/pkg/oci"
)

// ErrRequirement is matched by a *RequirementError.
var ErrRequirement = errdef.New(errdef.ErrVerification, "requirement not met")

// Engine holds the versions the consuming engine declares, by requirement
// name (engine_version_semver, plugin_api_version, engine_version...). A nil
// Engine declares nothing: requirements are reported, not enforced.
type Engine map[string]string

// RequirementError reports an artifact whose requirement the engine does not
// meet.
type RequirementError struct {
	Artifact, Version string
	Requirement       oci.Requirement
	Have              string // "" when the engine does not declare it
}

func (e *RequirementError) Error() string {
	have := "the engine has " + e.Have
	if e.Have == "" {
		have = "the engine does not declare it"
	}
	return fmt.Sprintf("%s %s requires %s %s; %s", e.Artifact, e.Version, e.Requirement.Name, e.Requirement.Version, have)
}

// Is makes errors.Is(err, ErrRequirement) true, and so for its kind (errdef).
func (e *RequirementError) Is(target error) bool { return errors.Is(ErrRequirement, target) }

// Check returns the first requirement in reqs the engine does not meet, and
// the requirements it could not check because the engine does not declare
// them. A requirement is met by the same major version at least as high
// (plugin_api_version) or any version at least as high (the others); an
// integer engine_version N is also met by engine_version_semver 0.N.0 or
// higher.
func (e Engine) Check(artifact, version string, reqs []oci.Requirement) (*RequirementError, []oci.Requirement) {
	var unchecked []oci.Requirement
	for _, r := range reqs {
		have, ok := e[r.Name]
		need := r.Version
		if !ok && r.Name == oci.RequirementEngine {
			if sv, found := e[oci.RequirementEngineSemver]; found {
				if n, err := strconv.Atoi(r.Version); err == nil {
					have, need, ok = sv, fmt.Sprintf("0.%d.0", n), true
				}
			}
		}
		if !ok {
			unchecked = append(unchecked, r)
			continue
		}
		if !meets(r.Name, have, need) {
			return &RequirementError{Artifact: artifact, Version: version, Requirement: r, Have: have}, unchecked
		}
	}
	return nil, unchecked
}

func meets(name, have, need string) bool {
	if hi, err1 := strconv.Atoi(have); err1 == nil {
		if ni, err2 := strconv.Atoi(need); err2 == nil {
			return hi >= ni
		}
	}
	h, err1 := semver.NewVersion(have)
	n, err2 := semver.NewVersion(need)
	if err1 != nil || err2 != nil {
		return have == need
	}
	if name == oci.RequirementPluginAPI && h.Major() != n.Major() {
		return false
	}
	return !h.LessThan(n)
}
