package gateway

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/internal/socketio"
)

// planBroadcasts decides, for each namespace of st, what its broadcasts do
// besides reaching the sockets: recorded in the recovery stream when the
// namespace recovers, kept in the rooms' history when it keeps one. It runs
// when a config is built, before st serves, so that a broadcast asks the
// namespace once (broadcastPlan) instead of once for recovery and again for
// history; a namespace that does neither has no plan and costs a broadcast
// nothing more.
func (gw *Gateway) planBroadcasts(st *state) {
	for name, ns := range st.namespaces {
		var plan socketio.BroadcastPlan
		if ns.recovery != nil {
			limits := streamLimits(ns)
			plan.Record = func(ctx context.Context, rooms, except []string, event string, args []any) error {
				return recovery{gw: gw}.record(ctx, name, limits, rooms, except, event, args)
			}
		}
		if c := ns.history; c != nil {
			plan.Keep = func(ctx context.Context, rooms []string, event string, args []any) {
				history{gw: gw}.keepIn(ctx, c, name, rooms, event, args)
			}
		}
		if plan.Record != nil || plan.Keep != nil {
			ns.broadcast = &plan
		}
	}
}

// broadcastPlan is the Socket.IO server's Options.Plan: the plan of the
// namespace in the running state, one lookup.
func (gw *Gateway) broadcastPlan(namespace string) *socketio.BroadcastPlan {
	st := gw.state()
	if st == nil {
		return nil
	}
	if ns := st.namespaces[namespace]; ns != nil {
		return ns.broadcast
	}
	return nil
}
