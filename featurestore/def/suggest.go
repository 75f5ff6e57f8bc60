package def

import "sort"

// Suggest returns up to three distinct candidates closest to name by edit
// distance (with transpositions), closest first, among those within a
// distance that makes them plausible typos: one edit per three bytes of name,
// at most three. Names shorter than three bytes get no suggestions; every
// other short name would be "close".
func Suggest(name string, candidates []string) []string {
	type scored struct {
		s string
		d int
	}
	limit := min(len(name)/3, 3)
	if len(name) > 4*MaxNameLen {
		return nil // no plausible typo of any valid name; and bounds the work
	}
	var best []scored
	seen := map[string]bool{}
	for _, c := range candidates {
		if c == name || seen[c] {
			continue
		}
		seen[c] = true
		if abs(len(c)-len(name)) > limit {
			continue // the distance is at least the difference in length
		}
		if d := editDistance(name, c); d <= limit {
			best = append(best, scored{c, d})
		}
	}
	sort.SliceStable(best, func(i, j int) bool {
		if best[i].d != best[j].d {
			return best[i].d < best[j].d
		}
		return best[i].s < best[j].s
	})
	if len(best) == 0 {
		return nil
	}
	if len(best) > 3 {
		best = best[:3]
	}
	out := make([]string, len(best))
	for i, b := range best {
		out[i] = b.s
	}
	return out
}

// editDistance is the optimal-string-alignment distance over bytes:
// insertions, deletions, substitutions and adjacent transpositions each
// cost one, so "INT46" is one edit from "INT64".
func editDistance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
