// Package e2e holds end-to-end tests across roles: real hostflow binaries
// (agent and collector) in network namespaces with real traffic, read back
// through the collector's HTTP API. They need root and skip otherwise.
package e2e
