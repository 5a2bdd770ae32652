// Package auth verifies JSON Web Tokens for the gateway: at the HTTP upgrade
// (Middleware, on gofiber/contrib/jwt) and at namespace CONNECT (VerifyJSON,
// which keeps the claims as their JSON text, or Verify, which decodes them
// into a map), with one Verifier so that both places accept exactly the
// same tokens.
//
// Keys come from an HMAC secret, PEM public key files or a JWKS URL
// (MicahParks/keyfunc, refreshed in the background and, unless the config
// says to refuse such tokens, on an unknown key id, at most once per
// jwks_refetch_interval). While the secret is being replaced, the previous
// secrets verify tokens until their window ends (rotation.go). The accepted algorithms are pinned by the config and each
// must fit the kind of key it is checked with, so a token cannot choose its
// own verification (alg none, HS256 signed with an RSA public key). Every
// refusal is a *gatehouse.Error with code token_expired or unauthorized and a
// message that says what is wrong without repeating the token.
package auth
