package config

import "gopkg.in/yaml.v3"

// decodeNode decodes node into v; a placeholder for the strict decoder.
func decodeNode(node *yaml.Node, file string, v any) error {
	if node == nil {
		return nil
	}
	if err := node.Decode(v); err != nil {
		return ErrorList{Errorf(Pos{File: file, Line: node.Line, Column: node.Column}, "%v", err)}
	}
	return nil
}
