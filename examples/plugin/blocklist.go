package main

import (
	"context"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/guards"
)

func init() {
	guards.Define("blocklist", guards.Spec{
		Doc: "Refuses payloads whose field contains one of the words (forbidden).",
		Refusals: []guards.Refusal{
			{Code: "forbidden", When: "the field contains a blocked word"},
			{Code: "invalid_payload", When: "the payload is not valid JSON"},
		},
	}, newBlocklist)
}

// blocklistOptions are the YAML options of a blocklist guard:
//
//	no_spam:
//	  blocklist: {field: message, words: [spam, scam]}
type blocklistOptions struct {
	Field string   `yaml:"field" doc:"The payload field whose text is checked."`
	Words []string `yaml:"words" doc:"The blocked words, matched case-insensitively anywhere in the text."`
}

// blocklist refuses payloads whose field contains one of the words.
type blocklist struct {
	field string
	words []string
}

func newBlocklist(opts config.Options, o blocklistOptions) (guards.Guard, error) {
	if o.Field == "" {
		return nil, opts.FieldError("field", "blocklist: field is required")
	}
	if len(o.Words) == 0 {
		return nil, opts.FieldError("words", "blocklist: words must list at least one word")
	}
	words := make([]string, len(o.Words))
	for i, w := range o.Words {
		words[i] = strings.ToLower(w)
	}
	return &blocklist{field: o.Field, words: words}, nil
}

// MayBlock reports that the guard never waits: it only reads the payload.
func (b *blocklist) MayBlock() bool { return false }

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
