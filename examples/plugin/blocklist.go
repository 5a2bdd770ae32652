package main

import (
	"context"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/guards"
)

func init() {
	guards.Register("blocklist", newBlocklist)
}

// blocklistOptions are the YAML options of a blocklist guard:
//
//	no_spam:
//	  blocklist: {field: message, words: [spam, scam]}
type blocklistOptions struct {
	Field string   `yaml:"field"`
	Words []string `yaml:"words"`
}

// blocklist refuses payloads whose field contains one of the words.
type blocklist struct {
	field string
	words []string
}

func newBlocklist(opts config.Options) (guards.Guard, error) {
	var o blocklistOptions
	if err := opts.Decode(&o); err != nil {
		return nil, err
	}
	if o.Field == "" {
		return nil, opts.Errorf("blocklist: field is required")
	}
	if len(o.Words) == 0 {
		return nil, opts.Errorf("blocklist: words must list at least one word")
	}
	words := make([]string, len(o.Words))
	for i, w := range o.Words {
		words[i] = strings.ToLower(w)
	}
	return &blocklist{field: o.Field, words: words}, nil
}

// Check reads the payload only when the guard runs, through the shared lazy
// decode, so events that other guards refuse first cost nothing here.
func (b *blocklist) Check(_ context.Context, in *guards.Input) error {
	data, err := in.Payload.Data()
	if err != nil {
		return err
	}
	fields, _ := data.(map[string]any)
	text, _ := fields[b.field].(string)
	lower := strings.ToLower(text)
	for _, w := range b.words {
		if strings.Contains(lower, w) {
			return gatehouse.Errorf(gatehouse.CodeForbidden, "%s contains a blocked word", b.field)
		}
	}
	return nil
}
