package gatewayconfig

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a position in a config file. Line and Column count from 1; a zero
// Line means the error concerns the file as a whole (it could not be read,
// for instance).
type Pos struct {
	File   string
	Line   int
	Column int
}

// String returns "file:line:col", or just "file" when the position has no line.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Error is one config error at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns "file:line:col: message", or "file: message" when the
// position has no line.
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errorf returns an *Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// ErrorList is every error found in one load, in file order.
type ErrorList []*Error

// Error returns one error per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Sorted returns the errors ordered by position, without duplicates.
func (l ErrorList) Sorted() ErrorList { return l.sorted() }

// sorted returns the errors ordered by file, line and column, with exact
// duplicates removed: a node reached twice through YAML aliases would
// otherwise report the same mistake twice.
func (l ErrorList) sorted() ErrorList {
	out := slices.Clone(l)
	slices.SortStableFunc(out, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
		)
	})
	return slices.CompactFunc(out, func(a, b *Error) bool { return *a == *b })
}

// Append adds err to l, flattening an ErrorList or *Error (which keep their
// positions) and placing any other error at pos.
func (l ErrorList) Append(pos Pos, err error) ErrorList {
	switch e := err.(type) {
	case nil:
		return l
	case ErrorList:
		return append(l, e...)
	case *Error:
		return append(l, e)
	default:
		return append(l, &Error{Pos: pos, Msg: err.Error()})
	}
}
