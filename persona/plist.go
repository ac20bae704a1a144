package persona

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrPlistFormat is wrapped by every plist parsing error.
var ErrPlistFormat = errors.New("invalid property list")

// DecodePlist parses an XML property list (as `defaults export DOMAIN -`
// writes it) into Go values: map[string]any for dict, []any for array,
// string, int64, float64, bool, time.Time and []byte. Binary plists
// ("bplist00") are refused with ErrPlistFormat: they are applied as they
// are, never remapped.
func DecodePlist(data []byte) (any, error) {
	if bytes.HasPrefix(data, []byte("bplist")) {
		return nil, fmt.Errorf("%w: binary property list", ErrPlistFormat)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPlistFormat, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("%w: root element %q", ErrPlistFormat, se.Name.Local)
			}
			v, err := plistNext(d, 0)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrPlistFormat, err)
			}
			return v, nil
		}
	}
}

const plistMaxDepth = 100

var errPlistEnd = errors.New("end of container")

// plistNext reads the next value element; errPlistEnd at a closing tag.
func plistNext(d *xml.Decoder, depth int) (any, error) {
	if depth > plistMaxDepth {
		return nil, fmt.Errorf("nested deeper than %d", plistMaxDepth)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil, errPlistEnd
		case xml.StartElement:
			return plistValue(d, t, depth)
		}
	}
}

func plistValue(d *xml.Decoder, se xml.StartElement, depth int) (any, error) {
	switch se.Name.Local {
	case "dict":
		m := map[string]any{}
		for {
			k, err := plistNext(d, depth+1)
			if err == errPlistEnd {
				return m, nil
			}
			if err != nil {
				return nil, err
			}
			ks, ok := k.(plistKey)
			if !ok {
				return nil, fmt.Errorf("dict: value without a key")
			}
			v, err := plistNext(d, depth+1)
			if err == errPlistEnd {
				return nil, fmt.Errorf("dict: key %q without a value", string(ks))
			}
			if err != nil {
				return nil, err
			}
			if _, isKey := v.(plistKey); isKey {
				return nil, fmt.Errorf("dict: key %q followed by a key", string(ks))
			}
			m[string(ks)] = v
		}
	case "array":
		a := []any{}
		for {
			v, err := plistNext(d, depth+1)
			if err == errPlistEnd {
				return a, nil
			}
			if err != nil {
				return nil, err
			}
			if _, isKey := v.(plistKey); isKey {
				return nil, fmt.Errorf("array: key element inside")
			}
			a = append(a, v)
		}
	case "true", "false":
		if err := d.Skip(); err != nil {
			return nil, err
		}
		return se.Name.Local == "true", nil
	}
	var text string
	if err := d.DecodeElement(&text, &se); err != nil {
		return nil, err
	}
	switch se.Name.Local {
	case "key":
		return plistKey(text), nil
	case "string":
		return text, nil
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("integer %q", text)
		}
		return n, nil
	case "real":
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return nil, fmt.Errorf("real %q", text)
		}
		return f, nil
	case "date":
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("date %q", text)
		}
		return t, nil
	case "data":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown element <%s>", se.Name.Local)
}

type plistKey string
