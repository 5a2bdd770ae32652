package admin

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Parts of a node's view, each answered by one endpoint and asked of the
// other nodes by name.
const (
	PartConnections = "connections"
	PartRefusals    = "refusals"
	PartEvents      = "events"
)

// Bounds of what one node lists, and of the merged answer: the view is for
// people, and a node with a hundred thousand sockets must not answer with
// all of them.
const (
	// MaxSockets is how many sockets a node lists, and the merged view.
	MaxSockets = 500
	// MaxRooms is how many rooms of a namespace a node lists, the largest
	// first, and the merged view.
	MaxRooms = 200
	// MaxSocketRooms is how many rooms of one socket are listed.
	MaxSocketRooms = 20
)

// SocketInfo describes one connected socket.
type SocketInfo struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Node      string `json:"node"`
	// User is the socket's subject claim, "" when anonymous.
	User      string   `json:"user,omitempty"`
	Address   string   `json:"address,omitempty"`
	Transport string   `json:"transport,omitempty"`
	Rooms     []string `json:"rooms,omitempty"`
}

// RoomSize is a room and how many sockets are in it.
type RoomSize struct {
	Room    string `json:"room"`
	Sockets int    `json:"sockets"`
}

// NamespaceView is one namespace's sockets and rooms.
type NamespaceView struct {
	Namespace string     `json:"namespace"`
	Sockets   int        `json:"sockets"`
	Rooms     []RoomSize `json:"rooms"`
	// RoomsTruncated is set when some node had more rooms than it listed,
	// so rooms past MaxRooms (and their members on that node) are missing.
	RoomsTruncated bool `json:"rooms_truncated,omitempty"`
}

// NodeConnections is what one node holds: its namespaces with their
// socket counts and rooms, and its sockets up to MaxSockets.
type NodeConnections struct {
	Node             string          `json:"node"`
	Namespaces       []NamespaceView `json:"namespaces"`
	Sockets          []SocketInfo    `json:"sockets"`
	SocketsTruncated bool            `json:"sockets_truncated,omitempty"`
}

// NodeSummary is one node's socket count per namespace.
type NodeSummary struct {
	Node       string         `json:"node"`
	Self       bool           `json:"self,omitempty"`
	Namespaces map[string]int `json:"namespaces"`
}

// Connections is the cluster's view: the nodes that answered, each
// namespace summed over them, and their sockets.
type Connections struct {
	Nodes            []NodeSummary   `json:"nodes"`
	Namespaces       []NamespaceView `json:"namespaces"`
	Sockets          []SocketInfo    `json:"sockets"`
	SocketsTruncated bool            `json:"sockets_truncated,omitempty"`
	// Partial says which nodes did not answer, "" when all did.
	Partial string `json:"partial,omitempty"`
}

// Bucket is one cumulative bucket of a latency histogram: how many
// observations were at most LE seconds.
type Bucket struct {
	LE    float64 `json:"le"`
	Count uint64  `json:"count"`
}

// HandlerLatency is how long one handler of an event took.
type HandlerLatency struct {
	Handler    string   `json:"handler"`
	Count      uint64   `json:"count"`
	SumSeconds float64  `json:"sum_seconds"`
	Buckets    []Bucket `json:"buckets,omitempty"`
	// Estimates from the buckets, in milliseconds, filled in the merged
	// view.
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
}

// EventStat is one event's counts by result code (ok on success) and the
// latencies of its handlers, since each node started.
type EventStat struct {
	Namespace string            `json:"namespace"`
	Event     string            `json:"event"`
	Total     uint64            `json:"total"`
	Codes     map[string]uint64 `json:"codes"`
	Handlers  []HandlerLatency  `json:"handlers,omitempty"`
}

// NodeEvents is one node's event statistics; Metrics is false when the
// node runs without server.metrics, and then it has none.
type NodeEvents struct {
	Node    string      `json:"node"`
	Metrics bool        `json:"metrics"`
	Events  []EventStat `json:"events"`
}

// Events is the cluster's view of the events: counts summed over the
// nodes that answered. The page turns successive totals into rates.
type Events struct {
	Time    time.Time   `json:"time"`
	Nodes   []string    `json:"nodes"`
	Metrics bool        `json:"metrics"`
	Events  []EventStat `json:"events"`
	Partial string      `json:"partial,omitempty"`
}

// NodeRefusals is one node's last refusals.
type NodeRefusals struct {
	Node     string    `json:"node"`
	Total    uint64    `json:"total"`
	Refusals []Refusal `json:"refusals"`
}

// Refusals is the cluster's last refusals, newest first, at most the
// ring's size of each node.
type Refusals struct {
	Nodes    []string  `json:"nodes"`
	Total    uint64    `json:"total"`
	Refusals []Refusal `json:"refusals"`
	Partial  string    `json:"partial,omitempty"`
}

// Node is what the gateway tells of the node it runs on.
type Node interface {
	// ID identifies the node in the cluster.
	ID() string
	// Connections lists the node's namespaces, rooms and sockets within
	// MaxRooms and MaxSockets.
	Connections() NodeConnections
	// Events reads the node's event statistics from its metrics.
	Events() NodeEvents
}

// Local answers for one node: the gateway's Node and its refusals.
type Local struct {
	Node     Node
	Refusals *Ring
}

// Answer encodes the node's view of part, for a node that asked.
func (l *Local) Answer(part string) (json.RawMessage, error) {
	var v any
	switch part {
	case PartConnections:
		v = l.Node.Connections()
	case PartEvents:
		v = l.Node.Events()
	case PartRefusals:
		v = l.refusals()
	default:
		return nil, fmt.Errorf("admin: unknown part %q", part)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("admin: encode %s: %w", part, err)
	}
	return out, nil
}

func (l *Local) refusals() NodeRefusals {
	recent, total := l.Refusals.Recent()
	id := l.Node.ID()
	for i := range recent {
		recent[i].Node = id
	}
	return NodeRefusals{Node: id, Total: total, Refusals: recent}
}

// mergeConnections sums the nodes' namespaces and rooms and lists their
// sockets, within the bounds.
func mergeConnections(self string, nodes []NodeConnections) Connections {
	out := Connections{Nodes: []NodeSummary{}, Namespaces: []NamespaceView{}, Sockets: []SocketInfo{}}
	byName := map[string]*NamespaceView{}
	rooms := map[string]map[string]int{}
	for _, n := range nodes {
		summary := NodeSummary{Node: n.Node, Self: n.Node == self, Namespaces: map[string]int{}}
		for _, ns := range n.Namespaces {
			summary.Namespaces[ns.Namespace] = ns.Sockets
			view := byName[ns.Namespace]
			if view == nil {
				view = &NamespaceView{Namespace: ns.Namespace}
				byName[ns.Namespace] = view
				rooms[ns.Namespace] = map[string]int{}
			}
			view.Sockets += ns.Sockets
			view.RoomsTruncated = view.RoomsTruncated || ns.RoomsTruncated
			for _, r := range ns.Rooms {
				rooms[ns.Namespace][r.Room] += r.Sockets
			}
		}
		out.Nodes = append(out.Nodes, summary)
		out.SocketsTruncated = out.SocketsTruncated || n.SocketsTruncated
		out.Sockets = append(out.Sockets, n.Sockets...)
	}
	for name, view := range byName {
		view.Rooms, view.RoomsTruncated = largestRooms(rooms[name], view.RoomsTruncated)
		out.Namespaces = append(out.Namespaces, *view)
	}
	slices.SortFunc(out.Nodes, func(a, b NodeSummary) int { return cmp.Compare(a.Node, b.Node) })
	slices.SortFunc(out.Namespaces, func(a, b NamespaceView) int { return cmp.Compare(a.Namespace, b.Namespace) })
	slices.SortFunc(out.Sockets, func(a, b SocketInfo) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.User, b.User), cmp.Compare(a.ID, b.ID))
	})
	if len(out.Sockets) > MaxSockets {
		out.Sockets, out.SocketsTruncated = out.Sockets[:MaxSockets], true
	}
	return out
}

// largestRooms lists the rooms of sizes, the largest first (then by
// name), at most MaxRooms of them.
func largestRooms(sizes map[string]int, truncated bool) ([]RoomSize, bool) {
	out := make([]RoomSize, 0, len(sizes))
	for room, n := range sizes {
		out = append(out, RoomSize{Room: room, Sockets: n})
	}
	slices.SortFunc(out, func(a, b RoomSize) int { return cmp.Or(cmp.Compare(b.Sockets, a.Sockets), cmp.Compare(a.Room, b.Room)) })
	if len(out) > MaxRooms {
		return out[:MaxRooms], true
	}
	return out, truncated
}

// LargestRooms is largestRooms for a node listing its own rooms.
func LargestRooms(sizes map[string]int) (rooms []RoomSize, truncated bool) {
	return largestRooms(sizes, false)
}

// mergeRefusals lists the nodes' refusals newest first, at most size.
func mergeRefusals(nodes []NodeRefusals, size int) Refusals {
	out := Refusals{Nodes: []string{}, Refusals: []Refusal{}}
	for _, n := range nodes {
		out.Nodes = append(out.Nodes, n.Node)
		out.Total += n.Total
		out.Refusals = append(out.Refusals, n.Refusals...)
	}
	slices.Sort(out.Nodes)
	slices.SortStableFunc(out.Refusals, func(a, b Refusal) int { return b.Time.Compare(a.Time) })
	if len(out.Refusals) > size {
		out.Refusals = out.Refusals[:size]
	}
	return out
}
