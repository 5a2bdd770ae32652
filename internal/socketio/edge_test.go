package socketio

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/engineio"
)

func TestDecoderBoundsAPacketWithItsAttachmentsByMaxBytes(t *testing.T) {
	header := `52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`
	tests := []struct {
		name        string
		max         int64
		attachments []int // sizes
		wantErr     error // nil: the packet comes out whole
		fedBefore   int   // attachments taken before the refusal
	}{
		{"within the limit", int64(len(header)) + 200, []int{100, 100}, nil, 2},
		{"exactly the limit", int64(len(header)) + 200, []int{150, 50}, nil, 2},
		{"the second attachment passes it", int64(len(header)) + 200, []int{150, 51}, ErrPacketTooLarge, 1},
		{"the first attachment passes it", int64(len(header)) + 10, []int{11, 1}, ErrPacketTooLarge, 0},
		{"the text alone passes it", int64(len(header)) - 1, nil, ErrPacketTooLarge, 0},
		{"no limit", 0, []int{1 << 20, 1 << 20}, nil, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{MaxBytes: tc.max}
			p, err := d.Add(engineio.Message{Data: []byte(header)})
			if tc.attachments == nil {
				if !errors.Is(err, tc.wantErr) || p != nil {
					t.Fatalf("text: %v, %v; want %v", p, err, tc.wantErr)
				}
				return
			}
			if err != nil || p != nil {
				t.Fatalf("text: %v, %v", p, err)
			}
			for i, size := range tc.attachments {
				p, err = d.Add(engineio.Message{Data: bytes.Repeat([]byte{'a'}, size), Binary: true})
				if err != nil {
					if !errors.Is(err, tc.wantErr) || i != tc.fedBefore {
						t.Fatalf("attachment %d: %v; want %v at attachment %d", i, err, tc.wantErr, tc.fedBefore)
					}
					if d.Waiting() {
						t.Fatal("the decoder still holds the refused packet")
					}
					return
				}
			}
			if tc.wantErr != nil {
				t.Fatalf("no error, want %v", tc.wantErr)
			}
			if p == nil || len(p.Attachments) != len(tc.attachments) {
				t.Fatalf("packet %+v, want %d attachments", p, len(tc.attachments))
			}
		})
	}
}

func TestDecoderCountsEachPacketFromZero(t *testing.T) {
	header := `51-["up",{"_placeholder":true,"num":0}]`
	d := Decoder{MaxBytes: int64(len(header)) + 100}
	for i := range 3 {
		if _, err := d.Add(engineio.Message{Data: []byte(header)}); err != nil {
			t.Fatalf("packet %d text: %v", i, err)
		}
		p, err := d.Add(engineio.Message{Data: bytes.Repeat([]byte{'a'}, 100), Binary: true})
		if err != nil || p == nil {
			t.Fatalf("packet %d: %v, %v; each packet of exactly the limit must pass", i, p, err)
		}
	}
}

func TestClipNameCutsLongNamesOnACharacterBoundary(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"short", "sendMessage"},
		{"exactly the limit", strings.Repeat("a", maxQuoted)},
		{"long", strings.Repeat("a", 900<<10)},
		{"multi-byte across the cut", strings.Repeat("a", maxQuoted-1) + strings.Repeat("é", 100)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ClipName(tc.in)
			if len(tc.in) <= maxQuoted {
				if got != tc.in {
					t.Fatalf("ClipName(%q) = %q, want it unchanged", tc.in, got)
				}
				return
			}
			if !strings.HasSuffix(got, "…") || len(got) > maxQuoted+len("…") || !utf8.ValidString(got) {
				t.Fatalf("ClipName of %d bytes = %q (%d bytes), want at most %d bytes of valid UTF-8 and an ellipsis", len(tc.in), got, len(got), maxQuoted)
			}
			if !strings.HasPrefix(tc.in, strings.TrimSuffix(got, "…")) {
				t.Fatalf("ClipName = %q is not a prefix of its input", got)
			}
		})
	}
}
