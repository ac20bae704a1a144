package persona

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// planExport prepares one native export; nil when the target already has it.
func (a *applier) planExport(ctx context.Context, p *entryPlan, x ExportRecord) (*exportOp, error) {
	data, err := os.ReadFile(filepath.Join(a.opts.From, filepath.FromSlash(x.Stored)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMissingFile, err)
	}
	op := &exportOp{rec: x}
	run := a.opts.Runner
	switch x.Kind {
	case ExportDconf:
		op.data, _ = a.remap.Text(data)
		cur, err := runDconf(ctx, run, a.opts.Home, nil, "dump", x.Key)
		if err != nil {
			return nil, fmt.Errorf("dconf dump %s: %w", x.Key, err)
		}
		if keyfileCovered(parseKeyfile(string(op.data)), parseKeyfile(string(cur))) {
			return nil, nil
		}
		op.current = cur
	case ExportReg:
		f, err := DecodeReg(data)
		if err != nil {
			return nil, err
		}
		f.Remap(a.remap)
		op.data = f.Encode()
		if cur, err := a.regExport(ctx, x.Key); err == nil && cur != nil {
			if cf, err := DecodeReg(cur); err == nil && regCovered(f, cf) {
				return nil, nil
			}
			op.current = cur
		}
	case ExportDefaults:
		op.data, _ = a.remap.Text(data)
		if !bytes.HasPrefix(op.data, []byte("bplist")) {
			if _, err := DecodePlist(op.data); err != nil {
				return nil, fmt.Errorf("defaults %s: %w", x.Key, err)
			}
		}
		if cur, err := run.Run(ctx, Command{Name: "defaults", Args: []string{"export", x.Key, "-"}}); err == nil {
			if bytes.Equal(bytes.TrimSpace(cur), bytes.TrimSpace(op.data)) {
				return nil, nil
			}
			op.current = cur
		}
	case ExportCUPS:
		var pl PrinterList
		if err := json.Unmarshal(data, &pl); err != nil {
			return nil, fmt.Errorf("printers: %w", err)
		}
		out, _ := run.Run(ctx, Command{Name: "lpstat", Args: []string{"-v"}})
		have := map[string]string{}
		for _, q := range parseLpstatV(out) {
			have[q.Name] = q.URI
		}
		for _, q := range networkPrinters(pl.Printers) {
			if have[q.Name] != q.URI {
				op.printers = append(op.printers, q)
			}
		}
		if pl.Default != "" {
			if d, _ := run.Run(ctx, Command{Name: "lpstat", Args: []string{"-d"}}); parseLpstatD(d) != pl.Default {
				op.setDefault = pl.Default
				op.current = []byte(parseLpstatD(d))
			}
		}
		if len(op.printers) == 0 && op.setDefault == "" {
			return nil, nil
		}
	case ExportFstab:
		cur, err := os.ReadFile("/etc/fstab")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		have := map[string]bool{}
		for _, l := range strings.Split(string(cur), "\n") {
			have[strings.Join(strings.Fields(l), " ")] = true
		}
		remapped, _ := a.remap.Text(data)
		for _, l := range networkMounts(remapped) {
			if !have[strings.Join(strings.Fields(l), " ")] {
				op.fstab = append(op.fstab, l)
			}
		}
		if len(op.fstab) == 0 {
			return nil, nil
		}
		op.current = cur
	default:
		return nil, fmt.Errorf("unknown export kind %q", x.Kind)
	}
	return op, nil
}

// regCovered reports whether every value of want is in have.
func regCovered(want, have *RegFile) bool {
	for _, k := range want.Keys {
		hk, ok := have.Key(k.Name)
		if !ok {
			return false
		}
		for _, v := range k.Values {
			hv, ok := hk.Value(v.Name)
			if !ok || hv.Type != v.Type || hv.Str != v.Str || hv.DWord != v.DWord || !bytes.Equal(hv.Data, v.Data) {
				return false
			}
		}
	}
	return true
}

// regExport exports a key to memory; nil data when the key does not exist.
func (a *applier) regExport(ctx context.Context, key string) ([]byte, error) {
	tmp, err := os.CreateTemp("", "cabinet-reg-*.reg")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if _, err := a.opts.Runner.Run(ctx, Command{Name: "reg", Args: []string{"export", key, tmp.Name(), "/y"}}); err != nil {
		if regKeyMissing(err) {
			return nil, nil
		}
		return nil, err
	}
	return os.ReadFile(tmp.Name())
}

func (a *applier) applyExport(ctx context.Context, x *exportOp, owner *fileOwner) ([]Action, error) {
	run := a.opts.Runner
	switch x.rec.Kind {
	case ExportDconf:
		db := filepath.Join(a.opts.Home, ".config", "dconf")
		if privateBus(a.opts.Home) {
			// No dconf-service holds this database: undo restores the
			// database file itself, byte for byte.
			if _, err := a.mkdirAll(db, 0o700, owner); err != nil {
				return nil, err
			}
			dir, err := a.openDir(db)
			if err != nil {
				return nil, err
			}
			err = a.undo.saveBefore(dir, filepath.Join(db, "user"))
			dir.Close()
			if err != nil {
				return nil, err
			}
		} else {
			saved, err := a.undo.saveData(x.current)
			if err != nil {
				return nil, err
			}
			if err := a.undo.record(undoRecord{Op: "dconf", Key: x.rec.Key, Saved: saved, Path: a.opts.Home}); err != nil {
				return nil, err
			}
		}
		if _, err := runDconf(ctx, run, a.opts.Home, x.data, "load", x.rec.Key); err != nil {
			return nil, fmt.Errorf("dconf load %s: %w", x.rec.Key, err)
		}
		owner.chown(db)
		owner.chown(filepath.Join(db, "user"))
		return []Action{{Op: "import", Path: "dconf " + x.rec.Key}}, nil
	case ExportReg, ExportDefaults:
		rec := undoRecord{Op: x.rec.Kind, Key: x.rec.Key, Existed: x.current != nil}
		if x.current != nil {
			saved, err := a.undo.saveData(x.current)
			if err != nil {
				return nil, err
			}
			rec.Saved = saved
		}
		if err := a.undo.record(rec); err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp("", "cabinet-import-*")
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		_, err = tmp.Write(x.data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		c := Command{Name: "reg", Args: []string{"import", tmp.Name()}}
		if x.rec.Kind == ExportDefaults {
			c = Command{Name: "defaults", Args: []string{"import", x.rec.Key, tmp.Name()}}
		}
		if _, err := run.Run(ctx, c); err != nil {
			return nil, err
		}
		return []Action{{Op: "import", Path: x.rec.Kind + " " + x.rec.Key}}, nil
	case ExportCUPS:
		var acts []Action
		for _, q := range x.printers {
			if err := a.undo.record(undoRecord{Op: "printer", Key: q.Name}); err != nil {
				return nil, err
			}
			args := []string{"-p", q.Name, "-E", "-v", q.URI}
			if strings.HasPrefix(q.URI, "ipp") {
				args = append(args, "-m", "everywhere")
			}
			if _, err := run.Run(ctx, Command{Name: "lpadmin", Args: args}); err != nil {
				return acts, fmt.Errorf("add printer %s: %w", q.Name, err)
			}
			acts = append(acts, Action{Op: "add-printer", Path: q.Name, Detail: q.URI})
		}
		if x.setDefault != "" {
			if err := a.undo.record(undoRecord{Op: "printer-default", Key: string(x.current)}); err != nil {
				return nil, err
			}
			if _, err := run.Run(ctx, Command{Name: "lpadmin", Args: []string{"-d", x.setDefault}}); err != nil {
				return acts, fmt.Errorf("default printer %s: %w", x.setDefault, err)
			}
			acts = append(acts, Action{Op: "default-printer", Path: x.setDefault})
		}
		return acts, nil
	case ExportFstab:
		content := x.current
		if len(content) > 0 && !bytes.HasSuffix(content, []byte("\n")) {
			content = append(content, '\n')
		}
		content = append(append([]byte(nil), content...), []byte(strings.Join(x.fstab, "\n")+"\n")...)
		sum := sha256.Sum256(content)
		mode := fs.FileMode(0o644)
		if st, err := os.Stat("/etc/fstab"); err == nil {
			mode = st.Mode().Perm()
		}
		f := &fileOp{dst: "/etc/fstab", data: content, sum: hex.EncodeToString(sum[:]), mode: mode, op: "write"}
		if err := a.writeTo("/etc/fstab", f, nil); err != nil {
			return nil, err
		}
		return []Action{{Op: "write", Path: "/etc/fstab", Detail: fmt.Sprintf("%d network mount line(s) added", len(x.fstab))}}, nil
	}
	return nil, fmt.Errorf("unknown export kind %q", x.rec.Kind)
}
