package postgres

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestLostConnection(t *testing.T) {
	other := errors.New("ERROR: permission denied (SQLSTATE 42501)")
	tests := []struct {
		in       error
		explains bool
	}{
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{io.EOF, true},
		{other, false},
	}
	for _, tt := range tests {
		got := lostConnection(tt.in)
		if !errors.Is(got, tt.in) {
			t.Errorf("lostConnection(%v) = %v: lost the cause", tt.in, got)
		}
		if explains := strings.Contains(got.Error(), "closed the connection without a reason"); explains != tt.explains {
			t.Errorf("lostConnection(%v) = %q", tt.in, got)
		}
	}
}
