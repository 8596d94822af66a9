package cli

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// Every field of every view a command prints with -o json is documented
// in docs/json.md, under its JSON name.
func TestJSONViewsDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, v := range []any{
		entryView{}, searchView{}, infoView{}, dependencyView{}, alternativeView{}, requirementView{}, planItemView{},
		lockView{}, lockedArtifact{}, bundleView{}, bundledArtifact{}, mirrorView{}, mirroredFile{},
		verifyView{}, checkView{}, promoteView{}, promotedView{},
		indexView{}, indexRemoveView{}, authView{}, pullView{}, configView{}, configValue{}, configSetView{},
		spooledView{}, flushView{}, versionView{}, falcoctlVersion{},
		driverEnvView{}, driverConfigView{}, driverFalcoView{}, driverCleanupView{}, driverCommandView{},
	} {
		for _, name := range jsonNames(reflect.TypeOf(v)) {
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("%T: field %q is not in docs/json.md", v, name)
			}
		}
	}
}

// jsonNames are the JSON field names of struct type t, embedded structs'
// included.
func jsonNames(t reflect.Type) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case tag == "-":
		case sf.Anonymous && tag == "":
			names = append(names, jsonNames(sf.Type)...)
		case tag == "":
			if sf.IsExported() {
				names = append(names, sf.Name)
			}
		default:
			names = append(names, tag)
		}
	}
	return names
}
