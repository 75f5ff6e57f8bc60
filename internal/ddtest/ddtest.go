// Package ddtest holds the small parsers and printers the datadriven test
// scripts share: input lines, integers, clock times and cells.
package ddtest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Lines returns the non-empty lines of s that are not comments (#).
func Lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// Atoi parses a decimal int64 or fails the test.
func Atoi(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return n
}

// Clock parses h:mm[:ss] after the epoch (or a Go duration like 1h), with
// an optional "-" for before it, into microseconds.
func Clock(t testing.TB, s string) int64 {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var us int64
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		var secs int64
		for _, p := range parts {
			secs = secs*60 + Atoi(t, p)
		}
		for i := len(parts); i < 3; i++ {
			secs *= 60
		}
		us = secs * 1_000_000
	} else {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("bad time %q", s)
		}
		us = d.Microseconds()
	}
	if neg {
		us = -us
	}
	return us
}

// TimeCell prints microseconds as h:mm:ss after the epoch.
func TimeCell(us int64) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	s := us / 1_000_000
	return fmt.Sprintf("%s%d:%02d:%02d", sign, s/3600, s/60%60, s%60)
}

// Cell prints a value: null for nil, shortest round-trip floats.
func Cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
