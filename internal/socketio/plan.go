package socketio

import "context"

// BroadcastPlan is what a Broadcast in one namespace does besides reaching
// its sockets, decided when the configuration is built so that a broadcast
// asks for it once (see Options.Plan). A nil func does nothing.
type BroadcastPlan struct {
	// Record, when set, sends the broadcast through the namespace's
	// recovery stream, which delivers it on every node (see
	// Recovery.Record), instead of delivering it here.
	Record func(ctx context.Context, rooms, except []string, event string, args []any) error
	// Keep, when set, is told of every broadcast to rooms made on this
	// node (not of those delivered for other nodes), before it is
	// delivered: for the rooms' history.
	Keep func(ctx context.Context, rooms []string, event string, args []any)
}

// broadcastPlan is namespace's plan, nil when a broadcast only reaches
// the sockets. Without Options.Plan, a namespace that recovers (its
// Window is not zero) records its broadcasts.
func (s *Server) broadcastPlan(namespace string) *BroadcastPlan {
	if s.plan != nil {
		return s.plan(namespace)
	}
	if s.recoveryWindow(namespace) > 0 {
		return &BroadcastPlan{Record: func(ctx context.Context, rooms, except []string, event string, args []any) error {
			return s.recovery.Record(ctx, namespace, rooms, except, event, args)
		}}
	}
	return nil
}
