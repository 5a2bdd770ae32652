package gatewayconfig

import (
	"os"
	"testing"
)

// FuzzParse checks that no input makes the loader panic, and that a config
// either loads or comes with at least one positioned error.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../../gateway.yaml"); err == nil {
		f.Add(data)
	}
	seeds := []string{
		"",
		"server: {listen: \":8080\", ping_interval: 25s, max_payload: 1MB}\n",
		"auth:\n  jwt: {secret: ${S:-x}, algorithms: [HS256, none]}\n",
		"guards:\n  a: {claims: {role: admin}, expr: x}\n  b: &b {rate_limit: {rate: 1}}\n  c: *b\n",
		"namespaces:\n  /c:\n    events:\n      e: {handler: {reply: {}}, handlers: []}\n",
		"a: &x [*x]\n",
		"<<: {server: {}}\n",
		"server:\n  listen: \":8080\"\n   path: /x\n",
		"x: $${y} ${z\n",
		"--- 1\n--- 2\n",
		"? [a, b]\n: c\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	env := envOf(map[string]string{"JWT_SECRET": "fuzz"})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, env)
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without error")
			}
			// Plugins decode their options later; that must not panic either.
			for _, g := range cfg.Guards {
				var v any
				_ = g.Options.Decode(&v)
			}
			return
		}
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.Pos.File != "fuzz.yaml" || e.Msg == "" {
				t.Fatalf("error without file or message: %#v", e)
			}
		}
	})
}
