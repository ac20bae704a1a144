package persona

import (
	"bufio"
	"bytes"
	"strings"
)

// PrinterList is the CUPS export (exports/<entry>/<n>-cups.json): network
// queues only; local printers and drivers are not migrated.
type PrinterList struct {
	Printers []Printer `json:"printers"`
	Default  string    `json:"default,omitempty"`
}

// Printer is one CUPS queue.
type Printer struct {
	Name string `json:"name"`
	URI  string `json:"uri"`
}

// parseLpstatV reads `lpstat -v`: "device for NAME: URI" (English) lines.
func parseLpstatV(out []byte) []Printer {
	var ps []Printer
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "device for ")
		if !ok {
			continue
		}
		name, uri, ok := strings.Cut(rest, ": ")
		if !ok || name == "" {
			continue
		}
		ps = append(ps, Printer{Name: name, URI: strings.TrimSpace(uri)})
	}
	return ps
}

// parseLpstatD reads `lpstat -d`: "system default destination: NAME".
func parseLpstatD(out []byte) string {
	s := strings.TrimSpace(string(out))
	if _, name, ok := strings.Cut(s, "destination: "); ok {
		return strings.TrimSpace(name)
	}
	return ""
}

// networkPrinters keeps queues whose device URI reaches the network.
func networkPrinters(ps []Printer) []Printer {
	var out []Printer
	for _, p := range ps {
		scheme, _, _ := strings.Cut(p.URI, ":")
		switch strings.ToLower(scheme) {
		case "ipp", "ipps", "http", "https", "lpd", "socket", "smb", "dnssd":
			out = append(out, p)
		}
	}
	return out
}

// networkMounts returns the cifs/nfs/sshfs lines of an fstab.
func networkMounts(fstab []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(fstab))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[2] {
		case "cifs", "smb3", "smbfs", "nfs", "nfs4", "fuse.sshfs", "sshfs", "davfs":
			out = append(out, line)
		}
	}
	return out
}

// parseKeyfile reads a GLib key file (dconf dump, INI) into
// "[section]key" → value; later duplicates win.
func parseKeyfile(data string) map[string]string {
	m := map[string]string{}
	section := ""
	for _, line := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";"):
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
			section = t[1 : len(t)-1]
		default:
			k, v, ok := strings.Cut(t, "=")
			if ok {
				m["["+section+"]"+strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return m
}

// keyfileCovered reports whether every key of want has the same value in have.
func keyfileCovered(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}
