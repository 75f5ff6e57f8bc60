package def

import (
	"fmt"
	"strings"
)

// FeatureRef is a parsed feature reference "view:feature"; Feature is "*"
// for every feature of the view.
type FeatureRef struct {
	View    string
	Feature string
}

// String formats the reference as "view:feature".
func (r FeatureRef) String() string { return r.View + ":" + r.Feature }

// Column returns the training-set column name "<view>__<feature>".
func (r FeatureRef) Column() string { return r.View + "__" + r.Feature }

// Wildcard reports whether the reference names every feature of its view.
func (r FeatureRef) Wildcard() bool { return r.Feature == "*" }

// ParseFeatureRef parses "view:feature" or "view:*".
func ParseFeatureRef(s string) (FeatureRef, error) {
	view, feature, ok := strings.Cut(s, ":")
	if !ok {
		return FeatureRef{}, fmt.Errorf("feature reference %q: want view:feature or view:*", s)
	}
	if err := CheckName(view); err != nil {
		return FeatureRef{}, fmt.Errorf("feature reference %q: view: %w", s, err)
	}
	if feature != "*" {
		if err := CheckName(feature); err != nil {
			return FeatureRef{}, fmt.Errorf("feature reference %q: feature: %w", s, err)
		}
	}
	return FeatureRef{View: view, Feature: feature}, nil
}

// MaxNameLen is the longest name accepted for any object, field or feature.
const MaxNameLen = 64

// CheckName reports whether s is a valid name: a lower-case identifier
// [a-z_][a-z0-9_]* of at most MaxNameLen bytes.
func CheckName(s string) error {
	if s == "" {
		return fmt.Errorf("missing name")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("%q is %d bytes long, more than %d", s, len(s), MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return fmt.Errorf("%q has %q at offset %d; names are lower_snake_case: [a-z_][a-z0-9_]*", s, c, i)
		}
	}
	return nil
}

// checkColumnName is CheckName for columns of external data: upper case is
// allowed there, since fstore does not own Parquet files' schemas.
func checkColumnName(s string) error {
	if s == "" {
		return fmt.Errorf("missing column name")
	}
	if len(s) > 255 {
		return fmt.Errorf("column name %q is %d bytes long, more than 255", s, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return fmt.Errorf("column name %q has %q at offset %d; column names are [A-Za-z_][A-Za-z0-9_]*", s, c, i)
		}
	}
	return nil
}
