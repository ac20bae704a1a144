package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cabinetbackup/cabinet/repo"
	"github.com/cabinetbackup/cabinet/repo/blob"
)

// SessionVersion is the format version of session objects.
const SessionVersion = 1

// Data sources.
const (
	SourceFiles   = "files"
	SourcePersona = "persona"
	SourceCommand = "command"
)

// Session statuses.
const (
	StatusCompleted             = "completed"
	StatusCompletedWithWarnings = "completed with warnings"
)

// TimeLayout formats session times as folder names valid on every OS.
const TimeLayout = "2006-01-02 15.04.05"

// Summary counts what a backup session did.
type Summary struct {
	FilesNew       int64   `json:"files_new"`
	FilesChanged   int64   `json:"files_changed"`
	FilesUnchanged int64   `json:"files_unchanged"`
	Dirs           int64   `json:"dirs"`
	TotalFiles     int64   `json:"total_files"`
	TotalBytes     int64   `json:"total_bytes"`
	BytesRead      int64   `json:"bytes_read"`
	BytesAdded     int64   `json:"bytes_added"`
	BlobsAdded     int64   `json:"blobs_added"`
	Warnings       int64   `json:"warnings"`
	DurationSecs   float64 `json:"duration_seconds"`
}

// Session is one backup session.
type Session struct {
	FormatVersion int       `json:"format_version"`
	Device        string    `json:"device"`
	User          string    `json:"user"`
	Hostname      string    `json:"hostname"`
	OS            string    `json:"os"`
	Arch          string    `json:"arch"`
	Source        string    `json:"source"`
	Time          time.Time `json:"time"`
	Paths         []string  `json:"paths"`
	Tags          []string  `json:"tags,omitempty"`
	Parent        string    `json:"parent,omitempty"`
	Status        string    `json:"status"`
	Summary       Summary   `json:"summary"`
	Archived      bool      `json:"archived"`
	Tree          blob.ID   `json:"tree"`

	// Ref is where the session is stored (not encoded).
	Ref repo.SessionRef `json:"-"`
}

// ID returns the session's ID (the stored object's name).
func (s *Session) ID() string { return s.Ref.Name }

// ShortID returns the first 8 digits of the ID.
func (s *Session) ShortID() string {
	if len(s.Ref.Name) < 8 {
		return s.Ref.Name
	}
	return s.Ref.Name[:8]
}

// EncodeSession returns the plaintext of a session object.
func EncodeSession(s *Session) ([]byte, error) {
	type alias Session
	return json.Marshal(struct {
		*alias
		Tree string `json:"tree"`
	}{(*alias)(s), s.Tree.String()})
}

// DecodeSession parses a session object's plaintext.
func DecodeSession(data []byte) (*Session, error) {
	type alias Session
	var aux struct {
		*alias
		Tree string `json:"tree"`
	}
	s := &Session{}
	aux.alias = (*alias)(s)
	if err := json.Unmarshal(data, &aux); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if s.FormatVersion != SessionVersion {
		return nil, fmt.Errorf("session format version %d, this program reads version %d: upgrade cabinet", s.FormatVersion, SessionVersion)
	}
	id, err := blob.ParseID(aux.Tree)
	if err != nil {
		return nil, fmt.Errorf("session tree: %w", err)
	}
	s.Tree = id
	if s.Time.IsZero() {
		return nil, errors.New("session has no time")
	}
	return s, nil
}

// SaveSession stores s as the last step of a backup.
func SaveSession(ctx context.Context, r *repo.Repository, s *Session) error {
	s.FormatVersion = SessionVersion
	data, err := EncodeSession(s)
	if err != nil {
		return err
	}
	ref, err := r.PutSession(ctx, s.Device, data)
	if err != nil {
		return fmt.Errorf("write session: %w", err)
	}
	s.Ref = ref
	return nil
}

// LoadSession reads one session.
func LoadSession(ctx context.Context, r *repo.Repository, ref repo.SessionRef) (*Session, error) {
	data, err := r.GetSession(ctx, ref)
	if err != nil {
		return nil, err
	}
	s, err := DecodeSession(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", repo.ErrDamaged, ref.Path(), err)
	}
	s.Ref = ref
	return s, nil
}

// ListSessions loads the sessions of device, or of every device when
// device is "", sorted by time. Unreadable session objects go to onError
// (nil: they are skipped).
func ListSessions(ctx context.Context, r *repo.Repository, device string, onError func(error)) ([]*Session, error) {
	devices := []string{device}
	if device == "" {
		var err error
		if devices, err = r.Devices(ctx); err != nil {
			return nil, err
		}
	}
	var out []*Session
	for _, d := range devices {
		refs, err := r.SessionRefs(ctx, d)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			s, err := LoadSession(ctx, r, ref)
			if err != nil {
				if onError != nil {
					onError(err)
				}
				continue
			}
			out = append(out, s)
		}
	}
	SortSessions(out)
	return out, nil
}

// SortSessions orders sessions by time, then ID.
func SortSessions(ss []*Session) {
	sort.SliceStable(ss, func(i, j int) bool {
		if !ss[i].Time.Equal(ss[j].Time) {
			return ss[i].Time.Before(ss[j].Time)
		}
		return ss[i].Ref.Name < ss[j].Ref.Name
	})
}

// TimeNames gives each session (sorted by time) its display name in loc:
// "2026-11-21 10.30.05", with " (2)", " (3)" for sessions in the same second.
func TimeNames(ss []*Session, loc *time.Location) []string {
	names := make([]string, len(ss))
	seen := map[string]int{}
	for i, s := range ss {
		base := s.Time.In(loc).Format(TimeLayout)
		seen[base]++
		if n := seen[base]; n > 1 {
			names[i] = fmt.Sprintf("%s (%d)", base, n)
		} else {
			names[i] = base
		}
	}
	return names
}

// GroupTimeNames gives each session of ss (sorted by time) the time name
// that 'cabinet sessions' prints and the mount shows: TimeNames over the
// sessions of its own device and data source, so that " (2)" counts only
// the sessions of that device and source in the same second.
func GroupTimeNames(ss []*Session, loc *time.Location) []string {
	type key struct{ device, source string }
	groups := map[key][]int{}
	var order []key
	for i, s := range ss {
		k := key{s.Device, s.Source}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	names := make([]string, len(ss))
	for _, k := range order {
		idx := groups[k]
		sub := make([]*Session, len(idx))
		for j, i := range idx {
			sub[j] = ss[i]
		}
		for j, n := range TimeNames(sub, loc) {
			names[idx[j]] = n
		}
	}
	return names
}

// AmbiguousError is a time name that names sessions of several devices or
// data sources: each has its own time names.
type AmbiguousError struct {
	Spec     string
	Sessions []*Session // every session the name names, oldest first
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("session time %q names %d sessions (%s)", e.Spec, len(e.Sessions), e.Where())
}

// Where lists the devices and sources of the sessions named.
func (e *AmbiguousError) Where() string {
	var parts []string
	for _, s := range e.Sessions {
		parts = append(parts, fmt.Sprintf("%s of device %q", s.Source, s.Device))
	}
	return strings.Join(parts, ", ")
}

// Devices reports whether the sessions named are of more than one device
// (else of one device's several data sources).
func (e *AmbiguousError) Devices() bool {
	for _, s := range e.Sessions[1:] {
		if s.Device != e.Sessions[0].Device {
			return true
		}
	}
	return false
}

// Find picks one session from ss (sorted by time) by spec: "latest", an ID
// prefix, or a time name as GroupTimeNames gives it (per device and data
// source). A time name of sessions of several devices or sources is an
// *AmbiguousError, and so is "latest" where ss holds sessions of several:
// like a time name, it names one session of each (the mount shows
// MOUNT/<device>/<source>/latest), and the newest of them all may be
// another device's.
func Find(ss []*Session, spec string, loc *time.Location) (*Session, error) {
	if len(ss) == 0 {
		return nil, errors.New("the repository has no sessions yet: run 'cabinet backup' first")
	}
	if spec == "latest" {
		if named := latestOfEach(ss); len(named) > 1 {
			return nil, &AmbiguousError{Spec: spec, Sessions: named}
		}
		return ss[len(ss)-1], nil
	}
	var named []*Session
	for i, n := range GroupTimeNames(ss, loc) {
		if n == spec {
			named = append(named, ss[i])
		}
	}
	switch len(named) {
	case 1:
		return named[0], nil
	case 0:
	default:
		return nil, &AmbiguousError{Spec: spec, Sessions: named}
	}
	// IDs are lower-case hex; a prefix copied in capitals names them too.
	prefix := strings.ToLower(spec)
	var match []*Session
	for _, s := range ss {
		if prefix != "" && strings.HasPrefix(s.Ref.Name, prefix) {
			match = append(match, s)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, fmt.Errorf("no session %q: give 'latest', an ID prefix or a time as 'cabinet sessions' shows it", spec)
	}
	return nil, fmt.Errorf("session ID prefix %q matches %d sessions (%s): give more digits", spec, len(match), distinctPrefixes(match, 5))
}

// distinctPrefixes lists the IDs of the first max sessions of ss, each cut
// to the fewest digits (8 at least) that tell them apart, and how many
// more there are.
func distinctPrefixes(ss []*Session, max int) string {
	n := 8
	for {
		seen := map[string]bool{}
		clash := false
		for _, s := range ss {
			p := s.Ref.Name[:min(n, len(s.Ref.Name))]
			clash = clash || seen[p]
			seen[p] = true
		}
		if !clash || n >= 64 {
			break
		}
		n++
	}
	var parts []string
	for _, s := range ss[:min(max, len(ss))] {
		parts = append(parts, s.Ref.Name[:min(n, len(s.Ref.Name))])
	}
	if len(ss) > max {
		parts = append(parts, fmt.Sprintf("and %d more", len(ss)-max))
	}
	return strings.Join(parts, ", ")
}

// latestOfEach returns the newest session of each device and data source
// in ss (sorted by time), oldest first.
func latestOfEach(ss []*Session) []*Session {
	type key struct{ device, source string }
	seen := map[key]bool{}
	var named []*Session
	for i := len(ss) - 1; i >= 0; i-- {
		k := key{ss[i].Device, ss[i].Source}
		if !seen[k] {
			seen[k] = true
			named = append(named, ss[i])
		}
	}
	slices.Reverse(named)
	return named
}

// LoadTree reads and decodes one tree blob.
func LoadTree(ctx context.Context, r *repo.Repository, id blob.ID) (*Tree, error) {
	return loadTree(ctx, r, id, DecodeTree)
}

// LoadListing reads one tree blob and checks it, for decoding its nodes on
// demand (Listing).
func LoadListing(ctx context.Context, r *repo.Repository, id blob.ID) (*Listing, error) {
	return loadTree(ctx, r, id, ParseListing)
}

func loadTree[T any](ctx context.Context, r *repo.Repository, id blob.ID, decode func([]byte) (T, error)) (T, error) {
	var none T
	data, err := r.LoadBlob(ctx, id, nil)
	if err != nil {
		return none, fmt.Errorf("tree %s: %w", id.Short(), err)
	}
	t, err := decode(data)
	if err != nil {
		return none, fmt.Errorf("%w: tree %s: %v", repo.ErrDamaged, id.Short(), err)
	}
	return t, nil
}

// SaveTree encodes t and stores it (deduplicated) through w.
func SaveTree(ctx context.Context, w *repo.Writer, t *Tree) (blob.ID, error) {
	id, _, err := w.SaveBlob(ctx, blob.Tree, EncodeTree(t))
	return id, err
}

// FindPath returns the node at path (components separated by '/', leading
// and trailing '/' ignored) below the tree root.
func FindPath(ctx context.Context, r *repo.Repository, root blob.ID, path string) (*Node, error) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	id := root
	for i, p := range parts {
		t, err := LoadTree(ctx, r, id)
		if err != nil {
			return nil, err
		}
		n := t.Find(p)
		if n == nil {
			return nil, fmt.Errorf("%s: no %q in its folder", path, p)
		}
		if i == len(parts)-1 {
			return n, nil
		}
		if n.Type != TypeDir {
			return nil, fmt.Errorf("%s: %q is not a folder", path, p)
		}
		id = n.Subtree
	}
	return nil, fmt.Errorf("%s: empty path", path)
}
