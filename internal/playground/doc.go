// Package playground serves the gateway's playground: one page, embedded in
// the binary with the official socket.io-client browser bundle, that lists
// the namespaces and events of the running config and lets a developer open
// sockets, send each event (its payload editor pre-filled and checked from
// the event's schema guard) and watch what arrives.
//
// The page reads the config through a read-only JSON view (View) that holds
// names, kinds and payload schemas only: no secret of the config (JWT
// secret, API keys, Redis URL, handler options such as webhook URLs) is
// written into it. With mint_tokens on and an HMAC secret in auth.jwt, a
// form mints tokens on the server, so that the secret stays there too.
//
// The package knows the config and HTTP; it knows nothing of sockets, which
// the page opens to the gateway like any client.
package playground
