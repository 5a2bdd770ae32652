package adapter

import (
	"context"
	"log/slog"
	"sync"
)

// Memory is the adapter of a single process: there is no other node, so
// broadcasts need no forwarding (the Socket.IO server delivers them
// locally), requests get no answers, and published messages, which no
// backend can receive, are logged at debug level and dropped.
type Memory struct {
	node    string
	logger  *slog.Logger
	rec     memoryRecorder
	history memoryHistory

	mu   sync.Mutex
	recv Receiver // set by Start; delivers recorded broadcasts
}

var (
	_ Adapter  = (*Memory)(nil)
	_ Recorder = (*Memory)(nil)
)

// NewMemory returns the one-process adapter; logger may be nil.
func NewMemory(logger *slog.Logger) *Memory {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Memory{node: newNodeID(), logger: logger}
}

// NodeID identifies this process.
func (m *Memory) NodeID() string { return m.node }

// Distributed is false: this process is the whole cluster.
func (m *Memory) Distributed() bool { return false }

// Start keeps r, to which Record delivers: no other node sends anything.
func (m *Memory) Start(r Receiver) {
	m.mu.Lock()
	m.recv = r
	m.mu.Unlock()
}

// Send does nothing: there is no other node.
func (m *Memory) Send(context.Context, *Message) error { return nil }

// Request returns no answers: there is no other node.
func (m *Memory) Request(context.Context, *Message) ([]*Message, error) { return nil, nil }

// Publish logs the message and drops it.
func (m *Memory) Publish(_ context.Context, channel string, payload []byte) error {
	m.logger.Debug("published without a cluster adapter; dropped", "channel", channel, "bytes", len(payload))
	return nil
}

// State is always up.
func (m *Memory) State() (bool, string) { return true, "" }

// Errors is always zero.
func (m *Memory) Errors() uint64 { return 0 }

// Close does nothing.
func (m *Memory) Close() error { return nil }
