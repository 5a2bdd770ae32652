package asyncapi

import (
	"fmt"
	"strings"
)

// securitySchemes are the places auth.jwt reads a token from, one scheme
// each, in the order the gateway searches them: the CONNECT auth payload,
// then the upgrade request's. It records the references for the
// operations of namespaces that require a token.
func (b *builder) securitySchemes() object {
	tok := b.report.Token
	if tok == nil {
		return nil
	}
	verified := b.verification()
	schemes := object{}
	add := func(key string, scheme object) {
		schemes[key] = scheme
		b.security = append(b.security, object{"$ref": "#/components/securitySchemes/" + key})
	}
	add("connect_auth", object{
		"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
		"description": fmt.Sprintf("The token in the Socket.IO CONNECT packet's auth payload, searched first: "+
			"io(url, {auth: {%s: token}}). %s", tok.ConnectAuthKey, verified),
	})
	for _, place := range tok.Upgrade {
		kind, name, _ := strings.Cut(place, ":")
		key := "upgrade_" + kind + "_" + name
		switch {
		case kind == "header" && strings.EqualFold(name, "Authorization"):
			add(key, object{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
				"description": "Authorization: Bearer <token> on the Engine.IO upgrade request. " + verified})
		case kind == "header" || kind == "query" || kind == "cookie":
			add(key, object{"type": "httpApiKey", "name": name, "in": kind,
				"description": fmt.Sprintf("The token in the %s %s of the Engine.IO upgrade request. %s", kind, name, verified)})
		}
	}
	return schemes
}

// verification says how a token is checked and what a bad one gets.
func (b *builder) verification() string {
	tok := b.report.Token
	parts := []string{"Algorithms: " + strings.Join(tok.Algorithms, ", ") + "."}
	if tok.Issuer != "" {
		parts = append(parts, "Issuer: "+tok.Issuer+".")
	}
	if tok.Audience != "" {
		parts = append(parts, "Audience: "+tok.Audience+".")
	}
	if tok.RequireExp {
		parts = append(parts, "exp is required.")
	}
	for _, r := range tok.Errors {
		parts = append(parts, r.Code+": "+r.When+".")
	}
	return strings.Join(parts, " ")
}
