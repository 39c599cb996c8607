package h2

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/duplexdemo/duplexdemo/pkg/call"
)

// errLineTooLong: a line longer than call.MaxLine.
var errLineTooLong = fmt.Errorf("a line may be at most %d bytes", call.MaxLine)

// newLineReader reads lines of at most call.MaxLine bytes from r.
func newLineReader(r io.Reader) *bufio.Reader { return newLineReaderSize(r, call.MaxLine) }

// newLineReaderSize reads lines of at most maxLine bytes from r: the
// grandchild's, whose photo may be longer than call.MaxLine
// (story.Script.MaxGrandchildLine).
func newLineReaderSize(r io.Reader, maxLine int) *bufio.Reader {
	return bufio.NewReaderSize(r, maxLine+1) // the line and its newline
}

// readLine reads one line from br, without its newline. A stream that ends
// between lines gives io.EOF, one that ends mid-line io.ErrUnexpectedEOF,
// and a line over call.MaxLine errLineTooLong.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case err == nil:
		return string(line[:len(line)-1]), nil
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errLineTooLong
	case err == io.EOF && len(line) > 0:
		return "", io.ErrUnexpectedEOF
	}
	return "", err
}
