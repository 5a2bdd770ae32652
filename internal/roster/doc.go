// Package roster keeps the cluster's record of who is in which room
// (namespaces[].presence with the Redis adapter), so that a user's first
// join and last leave are decided once for the cluster, however many nodes
// its sockets are on, and a dead node's users leave within a bound.
package roster
