package socketio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// recipientPool recycles the recipient lists of broadcasts, which grow to
// the size of the largest room.
var recipientPool = sync.Pool{New: func() any { return new([]*Socket) }}

// Broadcast sends an event to the sockets of namespace that are in any of
// rooms (all of them when rooms is empty), except the sockets whose ids are
// listed. A socket id also works as a room holding only that socket.
// Arguments are encoded as for gatehouse.Socket.Emit. When the Server has a
// Remote, the broadcast is handed to it as well, for the other nodes.
func (s *Server) Broadcast(ctx context.Context, namespace string, rooms []string, exceptSocketIDs []string, event string, args ...any) error {
	if plan := s.broadcastPlan(namespace); plan != nil {
		if plan.Keep != nil && len(rooms) > 0 {
			plan.Keep(ctx, rooms, event, args)
		}
		if plan.Record != nil {
			return plan.Record(ctx, rooms, exceptSocketIDs, event, args)
		}
	}
	seq, err := s.broadcastHere(ctx, namespace, rooms, exceptSocketIDs, event, args)
	if err != nil {
		return err
	}
	if s.remote != nil {
		if seq != 0 {
			// The number goes with it, for the sessions moving meanwhile.
			ctx = context.WithValue(ctx, localSeqKey{}, seq)
		}
		if err := s.remote(ctx, namespace, rooms, exceptSocketIDs, event, args); err != nil {
			return fmt.Errorf("socketio: broadcast %q to other nodes: %w", event, err)
		}
	}
	return nil
}

// BroadcastLocal is Broadcast limited to this process: the cluster adapter
// calls it to deliver broadcasts that come from other nodes. The packet is
// encoded once and the same messages are queued on every recipient's
// session; a recipient whose queue is full is dropped by its own session
// without holding up the others.
func (s *Server) BroadcastLocal(ctx context.Context, namespace string, rooms []string, exceptSocketIDs []string, event string, args ...any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msgs, err := EncodeEvent(namespace, NoID, event, args...)
	if err != nil {
		return err
	}
	n := s.namespace(namespace, false)
	if n == nil {
		if s.observer != nil {
			s.observer.Broadcast(namespace, 0)
		}
		return nil
	}
	list := recipientPool.Get().(*[]*Socket)
	recipients := n.recipients(rooms, exceptSocketIDs, (*list)[:0])
	queued := 0
	for _, socket := range recipients {
		if err := socket.send(msgs); err != nil {
			socket.client.log().Debug("socket.io broadcast not queued", "nsp", namespace, "socket", socket.id, "err", err)
			continue
		}
		queued++
	}
	if s.observer != nil {
		s.observer.Broadcast(namespace, queued)
	}
	clear(recipients)
	*list = recipients[:0]
	recipientPool.Put(list)
	return nil
}

// DeliverRecorded delivers a recorded packet to this process's sockets
// among its recipients, with its offset as the last argument; a socket that
// is catching up holds it. The recovery store calls it, on every node, in
// the stream's order.
func (s *Server) DeliverRecorded(ctx context.Context, namespace string, p Recorded) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := s.namespace(namespace, false)
	if n == nil {
		return nil
	}
	msgs, err := EncodeEvent(namespace, NoID, p.Event, p.Args, p.Offset)
	if err != nil {
		return err
	}
	list := recipientPool.Get().(*[]*Socket)
	var recipients []*Socket
	if p.User != "" {
		recipients = n.ofUser(p.User, (*list)[:0])
		if len(p.Except) > 0 {
			recipients = slices.DeleteFunc(recipients, func(sock *Socket) bool { return slices.Contains(p.Except, sock.id) })
		}
	} else {
		recipients = n.recipients(p.Rooms, p.Except, (*list)[:0])
	}
	queued := 0
	for _, socket := range recipients {
		if err := socket.sendRecorded(p.Offset, msgs); err != nil {
			socket.client.log().Debug("socket.io recorded packet not queued", "nsp", namespace, "socket", socket.id, "err", err)
			if errors.Is(err, ErrHoldFull) {
				go socket.close("server namespace disconnect", true)
			}
			continue
		}
		queued++
	}
	if s.observer != nil {
		s.observer.Broadcast(namespace, queued)
	}
	clear(recipients)
	*list = recipients[:0]
	recipientPool.Put(list)
	return nil
}
