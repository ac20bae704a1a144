package repo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/cabinetbackup/cabinet/repo/backend"
)

// DeviceFolder returns the folder name a device's sessions are stored
// under: the name with every byte outside [A-Za-z0-9._-] percent-escaped,
// so any device name is a valid file and object name.
func DeviceFolder(device string) string {
	var b strings.Builder
	for i := 0; i < len(device); i++ {
		c := device[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || (c == '.' && i > 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// DeviceFromFolder reverses DeviceFolder.
func DeviceFromFolder(folder string) (string, error) { return url.PathUnescape(folder) }

// SessionRef names a stored session object.
type SessionRef struct {
	Device string
	Name   string // SHA-256 of the sealed object, hex
}

// Path returns the backend name of the session object.
func (s SessionRef) Path() string {
	return SessionsDir + "/" + DeviceFolder(s.Device) + "/" + s.Name
}

// Devices lists the devices that have sessions.
func (r *Repository) Devices(ctx context.Context) ([]string, error) {
	dirs, err := r.be.ListDirs(ctx, SessionsDir)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	var out []string
	for _, d := range dirs {
		name, err := DeviceFromFolder(d)
		if err != nil {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// SessionRefs lists the session objects of one device (one LIST request).
func (r *Repository) SessionRefs(ctx context.Context, device string) ([]SessionRef, error) {
	var out []SessionRef
	err := r.be.List(ctx, SessionsDir+"/"+DeviceFolder(device), func(fi backend.FileInfo) error {
		if len(fi.Name) == 64 {
			out = append(out, SessionRef{Device: device, Name: fi.Name})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions of device %q: %w", device, err)
	}
	return out, nil
}

// PutSession seals plaintext and stores it as a session object of device.
func (r *Repository) PutSession(ctx context.Context, device string, plaintext []byte) (SessionRef, error) {
	sealed := r.key.Seal(nil, plaintext)
	ref := SessionRef{Device: device, Name: fmt.Sprintf("%x", sha256.Sum256(sealed))}
	return ref, r.be.Put(ctx, ref.Path(), sealed)
}

// GetSession reads, verifies and opens a session object.
func (r *Repository) GetSession(ctx context.Context, ref SessionRef) ([]byte, error) {
	data, err := r.be.Get(ctx, ref.Path(), 0, 0)
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", ref.Path(), err)
	}
	if fmt.Sprintf("%x", sha256.Sum256(data)) != ref.Name {
		return nil, fmt.Errorf("%w: %s: content does not match its name (damaged or truncated)", ErrDamaged, ref.Path())
	}
	return r.OpenObject(ref.Path(), data)
}

// DeleteSession removes a session object (forget).
func (r *Repository) DeleteSession(ctx context.Context, ref SessionRef) error {
	return r.be.Delete(ctx, ref.Path())
}
