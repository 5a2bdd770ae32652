package gatehousetest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

// A Recorder is a socket that keeps what a handler did to it, for a test to
// check: here the built-in join handler puts the caller in a room, then a
// socket that has gone refuses the next join.
func ExampleRecorder() {
	t := &exampleT{} // a test's *testing.T
	defer t.end()

	join := gatehousetest.Handler(t, "join", "{room: data.room}")
	s := gatehousetest.NewRecorder(gatehousetest.SocketFields{
		ID: "s1", Namespace: "/chat", Rooms: []string{"lobby"}, Claims: gatehouse.Claims{"sub": "ada"},
	})
	reply, err := join.Handle(context.Background(), gatehousetest.Call(s, "join", `{"room": "dev"}`))
	fmt.Println(reply, err)
	fmt.Println(s.Joins(), s.Rooms())

	s.FailWith(errors.New("socket closed"))
	_, err = join.Handle(context.Background(), gatehousetest.Call(s, "join", `{"room": "ops"}`))
	fmt.Println(err != nil, s.Joins())
	// Output:
	// map[ok:true room:dev] <nil>
	// [dev] [dev lobby]
	// true [dev]
}
