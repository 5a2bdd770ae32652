package socketio

import (
	"slices"
	"testing"
)

func TestUserSocketsIndexKeepsEverySocketOfAUser(t *testing.T) {
	a, b, c, d := &Socket{id: "a"}, &Socket{id: "b"}, &Socket{id: "c"}, &Socket{id: "d"}
	n := &namespaceIndex{users: map[string]*Socket{}}
	add := func(sockets ...*Socket) {
		for _, s := range sockets {
			s.subject = "u"
			n.indexUserLocked(s)
		}
	}
	remove := func(sockets ...*Socket) {
		for _, s := range sockets {
			n.unindexUserLocked(s)
		}
	}
	ids := func() []string {
		var out []string
		for _, s := range n.ofUser("u", nil) {
			out = append(out, s.id)
		}
		slices.Sort(out)
		return out
	}
	steps := []struct {
		name  string
		apply func()
		want  []string
	}{
		{"add four", func() { add(a, b, c, d) }, []string{"a", "b", "c", "d"}},
		{"remove the last added (the head)", func() { remove(d) }, []string{"a", "b", "c"}},
		{"remove one in the middle", func() { remove(b) }, []string{"a", "c"}},
		{"remove the first added (the tail)", func() { remove(a) }, []string{"c"}},
		{"add them back", func() { add(a, b, d) }, []string{"a", "b", "c", "d"}},
		{"remove the rest, head first", func() { remove(d, b, a, c) }, nil},
	}
	for _, step := range steps {
		step.apply()
		if got := ids(); !slices.Equal(got, step.want) {
			t.Fatalf("%s: sockets %v, want %v", step.name, got, step.want)
		}
	}
	if len(n.users) != 0 {
		t.Fatalf("a user without sockets is still indexed: %v", n.users)
	}
	for _, s := range []*Socket{a, b, c, d} {
		if s.prevOfUser != nil || s.nextOfUser != nil {
			t.Fatalf("socket %s still links to others of its user", s.id)
		}
	}
}

func TestSocketKeepsTheFirstValueAttached(t *testing.T) {
	type state struct{ n int }
	s := &Socket{}
	if got := s.Attached(); got != nil {
		t.Fatalf("attached %v before anything was attached", got)
	}
	first := &state{n: 1}
	if got := s.AttachOnce(first); got != first {
		t.Fatalf("AttachOnce returned %v, want the value attached", got)
	}
	if got := s.AttachOnce(&state{n: 2}); got != first {
		t.Fatalf("a second AttachOnce returned %v, want the first value", got)
	}
	if got := s.Attached(); got != first {
		t.Fatalf("attached %v, want the first value", got)
	}
}
