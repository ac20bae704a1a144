package repo

import (
	"errors"
	"strings"
	"testing"
)

// A config with no format version (an empty object, null, 0, a negative
// number) is damaged, not a version this cabinet does not read: it said
// "use a cabinet release that supports version 0", a release that does
// not exist. A version this cabinet does not read says which way to go.
func TestReviewKeysConfigVersion(t *testing.T) {
	const id = `"id":"0123456789abcdef0123456789abcdef"`
	for _, c := range []struct {
		name, config string
		want         error
		says         string
	}{
		{"empty object", `{}`, ErrDamaged, "no format version"},
		{"null", `null`, ErrDamaged, "no format version"},
		{"zero", `{"format_version":0,` + id + `}`, ErrDamaged, "no format version"},
		{"negative", `{"format_version":-3,` + id + `}`, ErrDamaged, "-3"},
		{"newer", `{"format_version":9,` + id + `}`, ErrVersion, "newer"},
		{"older", `{"format_version":1,` + id + `}`, ErrVersion, "older"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeConfigHeader([]byte(c.config))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("config %s: %v; want %v saying %q", c.config, err, c.want, c.says)
			}
			if c.want == ErrDamaged && errors.Is(err, ErrVersion) {
				t.Fatalf("config %s: %v is a version error too", c.config, err)
			}
			if strings.Contains(err.Error(), "supports version 0") || strings.Contains(err.Error(), "repo.configFile") {
				t.Fatalf("config %s: %v", c.config, err)
			}
		})
	}
}

// A key file whose JSON does not decode says which field is wrong, not
// which Go type it did not fit.
func TestReviewKeysKeyFileJSONProblem(t *testing.T) {
	for _, c := range []struct{ name, key, says string }{
		{"negative memory", `{"kdf":"argon2id","params":{"time":3,"memory_kib":-1,"threads":2}}`, "field params.memory_kib holds a JSON number -1"},
		{"array", `[]`, "JSON array, not an object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeKeyFile([]byte(c.key))
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), c.says) || strings.Contains(err.Error(), "Go ") {
				t.Fatalf("key file %s: %v; want damaged saying %q", c.key, err, c.says)
			}
		})
	}
}
