// Package cluster lets any gateway of a cluster serve any session
// (cluster.any_node), for load balancers without sticky sessions.
//
// Each node draws a random tag at start (NewTag); the Engine.IO server
// starts every session id it makes with it, so a session id says which
// node holds the session while its random part stays unguessable. Each
// node announces its tag and internal address in the adapter's Redis under
// a lease (Directory), renewed every third of it: a node that dies drops
// out when its lease ends, and its sessions are unknown from then on.
//
// A polling request or a WebSocket upgrade that reaches a node not holding
// its session is handed to the owner over the owner's internal listener
// (Forwarder): a polling request through a pooled HTTP client with the
// answer streamed back, an upgrade as a byte tunnel once the owner has
// accepted it. Every forwarded request is signed with the cluster secret
// (Signer) and checked on the internal listener (Verifier), which refuses
// unsigned, wrongly signed, stale and replayed requests. The owner serves
// a forwarded request as its own (engineio.Server.ServeForwarded) and never
// forwards it again, so a request crosses at most one extra hop; requests
// that reach their own node take none.
package cluster
