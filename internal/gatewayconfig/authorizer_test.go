package gatewayconfig

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAuthorizerTakesItsDefaultsWhenNotWritten(t *testing.T) {
	src := "namespaces:\n  /app:\n    authorizer:\n      url: http://auth.internal/authorize\n      cookies: [session]\n"
	cfg, err := Parse("gw.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Authorizer{
		URL:         "http://auth.internal/authorize",
		At:          "connect",
		Timeout:     Duration(2 * time.Second),
		Cookies:     []string{"session"},
		OnError:     "deny",
		Cache:       AuthorizerCache{Size: 10000, TTL: Duration(30 * time.Second), MaxBytes: 16 * Megabyte},
		MaxRequest:  16 * Kilobyte,
		MaxAnswer:   16 * Kilobyte,
		MaxInFlight: 1000,
	}
	if got := cfg.Namespaces[0].Authorizer; !reflect.DeepEqual(got, want) {
		t.Errorf("authorizer = %+v, want %+v", got, want)
	}
	if cfg.Namespaces[0].Auth != "none" {
		t.Errorf("auth = %q: without auth.jwt the authorizer decides alone", cfg.Namespaces[0].Auth)
	}
}

func TestAuthorizerKeepsAZeroCacheAsWritten(t *testing.T) {
	src := "namespaces:\n  /app:\n    authorizer:\n      url: https://auth/\n      cache: {size: 0}\n      on_error: allow\n"
	cfg, err := Parse("gw.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if z := cfg.Namespaces[0].Authorizer; z.Cache.Size != 0 || z.OnError != "allow" {
		t.Errorf("authorizer = %+v", z)
	}
}

func TestAuthorizerMistakesAreReportedAtTheirPosition(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"no url", "      timeout: 1s\n", "gw.yaml:4:7: authorizer: url is required"},
		{"relative url", "      url: /authorize\n", "gw.yaml:4:12: authorizer: url \"/authorize\" must be an absolute http or https URL"},
		{"policy typo", "      url: http://a/\n      on_error: dney\n", "gw.yaml:5:17: namespaces./app.authorizer.on_error must be one of deny, allow, got \"dney\""},
		{"zero timeout", "      url: http://a/\n      timeout: 0s\n", "gw.yaml:5:16: authorizer: timeout must be above 0"},
		{"bad cookie name", "      url: http://a/\n      cookies: [\"a b\"]\n", "gw.yaml:5:17: authorizer: \"a b\" is not a cookie name"},
		{"unknown key", "      url: http://a/\n      cookie: [s]\n", "gw.yaml:5:7: unknown key \"cookie\""},
		{"no in-flight calls", "      url: http://a/\n      max_in_flight: 0\n", "gw.yaml:5:22: authorizer: max_in_flight must be above 0"},
		{"at typo", "      url: http://a/\n      at: upgarde\n", "gw.yaml:5:11: namespaces./app.authorizer.at must be one of connect, upgrade, got \"upgarde\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "namespaces:\n  /app:\n    authorizer:\n" + tc.body
			_, err := Parse("gw.yaml", []byte(src), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestOnlyOneNamespaceAsksItsAuthorizerAtTheUpgrade(t *testing.T) {
	src := "namespaces:\n  /a:\n    authorizer: {url: http://a/, at: upgrade}\n  /b:\n    authorizer: {url: http://b/, at: upgrade}\n"
	_, err := Parse("gw.yaml", []byte(src), nil)
	want := "gw.yaml:5:38: authorizer: namespace /a asks its authorizer at the upgrade already"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
