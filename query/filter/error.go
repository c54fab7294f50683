package filter

import (
	"fmt"
	"unicode/utf8"
)

// Error is a filter syntax or type error. It locates the problem in the
// input and says what was expected there, so an editor can underline it.
type Error struct {
	Offset int // byte offset in the input
	Line   int // 1-based
	Column int // 1-based, in characters (runes)
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// errorAt builds an Error at byte offset off of src.
func errorAt(src string, off int, format string, args ...any) *Error {
	if off > len(src) {
		off = len(src)
	}
	line, col := 1, 1
	for i := 0; i < off; {
		r, n := utf8.DecodeRuneInString(src[i:])
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i += n
	}
	return &Error{Offset: off, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}
