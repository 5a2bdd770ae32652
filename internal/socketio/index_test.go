package socketio

import (
	"slices"
	"testing"
)

func TestUserSocketsIndexKeepsEverySocketOfAUser(t *testing.T) {
	a, b, c := &Socket{id: "a"}, &Socket{id: "b"}, &Socket{id: "c"}
	n := &namespaceIndex{users: map[string]userSockets{}}
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
		{"add a twice, then b and c", func() {
			addUserSocket(n.users, "u", a)
			addUserSocket(n.users, "u", a)
			addUserSocket(n.users, "u", b)
			addUserSocket(n.users, "u", c)
		}, []string{"a", "b", "c"}},
		{"remove the first one", func() { removeUserSocket(n.users, "u", a) }, []string{"b", "c"}},
		{"add it back, remove another", func() {
			addUserSocket(n.users, "u", a)
			removeUserSocket(n.users, "u", b)
		}, []string{"a", "c"}},
		{"remove an unknown socket", func() { removeUserSocket(n.users, "u", &Socket{id: "x"}) }, []string{"a", "c"}},
		{"remove the rest", func() {
			removeUserSocket(n.users, "u", a)
			removeUserSocket(n.users, "u", c)
		}, nil},
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
