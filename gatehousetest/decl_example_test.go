package gatehousetest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/gatehousetest"
)

// A Decl says where options are written. Document lays a block mapping out
// from line 1, so errors point where a reader of gateway.yaml would look;
// File puts the options in a config file whose directory relative file
// names resolve in.
func ExampleDecl() {
	t := &exampleT{} // a test's *testing.T
	defer t.end()

	block := gatehousetest.Decl{Document: true}
	_, err := block.BuildHandler(t, "webhook", "url: http://127.0.0.1:9/\ntimeout: soon")
	fmt.Println(err)

	dir, _ := os.MkdirTemp("", "decl")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "room.json"), []byte(`{"type": "string", "maxLength": 5}`), 0o600)
	inDir := gatehousetest.Decl{File: filepath.Join(dir, "gateway.yaml")}
	g, err := inDir.BuildGuard(t, "schema", "{file: room.json}")
	if err != nil {
		fmt.Println(err)
		return
	}
	s := gatehousetest.NewSocket(gatehousetest.SocketFields{ID: "s1", Namespace: "/chat"})
	fmt.Println(g.Check(context.Background(), gatehousetest.Input(s, "join", `"develop"`)))
	// Output:
	// gateway.yaml:2:10: expected a duration such as 25s, got "soon"
	// invalid_payload: /: must be at most 5 characters, got 7
}
