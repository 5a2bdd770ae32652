// Package guards is the guard plugin API and the built-in guard types.
//
// A guard checks a namespace CONNECT or an event before its handler runs and
// either allows it (nil) or denies it with a *gatehouse.Error carrying a C2
// code. Guard types register a Factory by name from init(), like Caddy
// modules; gateway.yaml declares named instances under "guards:" and events
// refer to them by name. Built-ins live one per file: claims.go, expr.go,
// ratelimit.go, schema.go, maxsize.go.
package guards
