// Package gateway wires a loaded config into a running gateway: it builds
// every guard chain and handler from the registries, verifies tokens at the
// upgrade and at CONNECT, runs each event through its guards and handlers,
// answers refusals per contract C2, enforces token lifetime, and serves the
// Fiber app (Engine.IO routes, /healthz, /readyz, /metrics) until shut
// down.
//
// It reads top to bottom: build.go turns config into runtime values,
// hooks.go is the Socket.IO side (connect, event, disconnect), expiry.go the
// token lifetime, authorize.go and authorize_upgrade.go a namespace's
// authorizer (at CONNECT, at the handshake, its refresh), server.go the HTTP
// side and shutdown, metrics.go what the runtime counts for /metrics.
package gateway
