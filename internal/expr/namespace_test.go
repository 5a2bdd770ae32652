package expr

import "testing"

func TestRenameNamespaceTouchesOnlyTheVariable(t *testing.T) {
	tests := map[string]string{
		"namespace":                          namespaceVar,
		"namespace == '/chat'":               namespaceVar + " == '/chat'",
		"'namespace' + namespace":            "'namespace' + " + namespaceVar,
		`"a namespace" == socket.namespace`:  `"a namespace" == socket.namespace`,
		"data.namespace":                     "data.namespace",
		"data . namespace":                   "data . namespace",
		"r'\\'namespace' + namespace":        "r'\\'" + namespaceVar + "' + namespace",
		"'it\\'s namespace' + namespace":     "'it\\'s namespace' + " + namespaceVar,
		"'''x ' namespace''' + namespace":    "'''x ' namespace''' + " + namespaceVar,
		"namespaces + namespace_x":           "namespaces + namespace_x",
		"// namespace\nnamespace":            "// namespace\n" + namespaceVar,
		"{'n': namespace}.n":                 "{'n': " + namespaceVar + "}.n",
		"1.5 > 0.0 && namespace != ''":       "1.5 > 0.0 && " + namespaceVar + " != ''",
		"x.`namespace` + namespace":          "x.`namespace` + " + namespaceVar,
		"user.sub":                           "user.sub",
		"b\"namespace\" == bytes(namespace)": "b\"namespace\" == bytes(" + namespaceVar + ")",
	}
	for src, want := range tests {
		if got := renameNamespace(src); got != want {
			t.Errorf("renameNamespace(%q) = %q, want %q", src, got, want)
		}
	}
}
