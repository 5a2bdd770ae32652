package socketio

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// TestBroadcastsAreNumberedOnlyWhenSessionsMove checks the numbers the
// Remote receives: 1, 2, 3 with Options.Moves, none (0) without, for
// Broadcast and for Gated alike.
func TestBroadcastsAreNumberedOnlyWhenSessionsMove(t *testing.T) {
	for _, moves := range []bool{false, true} {
		t.Run(fmt.Sprintf("moves=%v", moves), func(t *testing.T) {
			var seen []uint64
			srv := newTestServer(newTestHooks("/chat"), Options{
				Moves: moves,
				Remote: func(ctx context.Context, _ string, _, _ []string, _ string, _ []any) error {
					seen = append(seen, LocalSeq(ctx))
					return nil
				},
			})
			for range 2 {
				if err := srv.Broadcast(context.Background(), "/chat", []string{"room"}, nil, "message", "hello"); err != nil {
					t.Fatal(err)
				}
			}
			gated, err := srv.Gated(func() error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			want := []uint64{0, 0}
			wantGated := uint64(0)
			if moves {
				want, wantGated = []uint64{1, 2}, 3
			}
			if fmt.Sprint(seen) != fmt.Sprint(want) || gated != wantGated {
				t.Fatalf("numbers %v and %d from Gated, want %v and %d", seen, gated, want, wantGated)
			}
		})
	}
}

// BenchmarkBroadcastMoveGate is a broadcast that reaches no socket here and
// is handed to a Remote, made from every processor at once, with session
// moves on (each broadcast numbered under the move gate, its number in the
// Remote's context) and off: what the gate costs a node whose sessions do
// not move.
func BenchmarkBroadcastMoveGate(b *testing.B) {
	for _, moves := range []bool{false, true} {
		b.Run(fmt.Sprintf("moves=%v", moves), func(b *testing.B) {
			srv := newTestServer(newTestHooks("/chat"), Options{
				Moves:  moves,
				Remote: func(context.Context, string, []string, []string, string, []any) error { return nil },
			})
			srv.namespace("/chat", true)
			args := gatehouse.Args{Raw: nil}
			rooms := []string{"room"}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if err := srv.Broadcast(ctx, "/chat", rooms, nil, "message", args); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
