package persona

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzManifest feeds arbitrary bytes to the manifest decoder: it must
// never panic, and a manifest it accepts must encode and decode again to
// the same manifest, with every path inside the home and the persona folder.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"format":1,"home":"/home/ann","os":{"family":"linux"},"entries":[]}`))
	f.Add([]byte(`{"format":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) && !errors.Is(err, ErrNewerFormat) {
				t.Fatalf("error %v wraps neither ErrBadManifest nor ErrNewerFormat", err)
			}
			return
		}
		for _, r := range m.Entries {
			for _, fr := range r.Files {
				if fr.Base != BaseSystem && checkRelative(fr.Path) != nil {
					t.Fatalf("accepted path %q", fr.Path)
				}
				if !fr.Dir && checkRelative(fr.Stored) != nil {
					t.Fatalf("accepted stored path %q", fr.Stored)
				}
			}
		}
		enc, err := EncodeManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := DecodeManifest(enc)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, enc)
		}
		enc2, _ := EncodeManifest(m2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}
