package gatewayconfig

import (
	"fmt"
	"strings"
)

// Suggest returns ` (did you mean "x"?)` naming the candidate closest to name,
// or "" when none is close enough to be a likely typo. Comparison ignores
// case, so "hs256" suggests "HS256". The runtime uses it to word its errors
// about unknown guard and handler types like the loader words its own.
func Suggest(name string, candidates []string) string {
	best, ok := closest(name, candidates)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// closest returns the candidate at the smallest edit distance from name,
// provided that distance is small for the length of name: one edit for
// short words, up to three for long ones. Ties go to the earlier candidate.
func closest(name string, candidates []string) (string, bool) {
	lower := strings.ToLower(name)
	limit := min(1+len([]rune(lower))/4, 3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		if d := editDistance(lower, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, bestDist <= limit
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// characters each cost one, which covers the usual typing slips.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rolling rows: the previous-but-one row is needed for transpositions.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
