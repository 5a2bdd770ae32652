package socketio

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestObjectMember(t *testing.T) {
	tests := []struct {
		name, obj, key string
		want           string
		found          bool
	}{
		{"string member", `{"token":"abc"}`, "token", `"abc"`, true},
		{"among others, with spaces", ` { "a" : 1 , "token" : "x.y.z" , "b":[1,{"token":2}] } `, "token", `"x.y.z"`, true},
		{"nested member is not a member", `{"a":{"token":"inner"}}`, "token", "", false},
		{"repeated key: the last wins", `{"token":"one","token":"two"}`, "token", `"two"`, true},
		{"escaped key", `{"t\u006fken":"abc"}`, "token", `"abc"`, true},
		{"null value", `{"token":null}`, "token", `null`, true},
		{"object value", `{"token":{"a":[1,2]}}`, "token", `{"a":[1,2]}`, true},
		{"key differs in case", `{"Token":"abc"}`, "token", "", false},
		{"empty object", `{}`, "token", "", false},
		{"not an object", `["token","abc"]`, "token", "", false},
		{"truncated", `{"token":"abc"`, "token", "", false},
		{"empty input", ``, "token", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found := ObjectMember([]byte(tc.obj), tc.key)
			if found != tc.found || string(got) != tc.want {
				t.Fatalf("ObjectMember(%s, %q) = %s, %v; want %s, %v", tc.obj, tc.key, got, found, tc.want, tc.found)
			}
		})
	}
}

// FuzzObjectMember checks ObjectMember against decoding the object into a
// map with encoding/json, for every valid JSON object.
func FuzzObjectMember(f *testing.F) {
	for _, seed := range []string{`{"token":"abc"}`, `{"a":1,"token":[1,{"token":2}],"token":"last"}`, `{"t\u006fken":null}`, `{}`} {
		f.Add(seed, "token")
	}
	f.Fuzz(func(t *testing.T, obj, key string) {
		got, found := ObjectMember([]byte(obj), key)
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(obj), &fields); err != nil || fields == nil {
			if json.Valid([]byte(obj)) && found {
				t.Fatalf("ObjectMember(%s, %q) found %s in what is not an object", obj, key, got)
			}
			return
		}
		want, ok := fields[key]
		if ok != found || (ok && !bytes.Equal(bytes.TrimSpace(want), got)) {
			t.Fatalf("ObjectMember(%s, %q) = %s, %v; encoding/json has %s, %v", obj, key, got, found, want, ok)
		}
	})
}
