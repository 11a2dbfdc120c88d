// Package app is StationDesk's domain: identity documents, transit cards,
// bindings, tickets, health checks, operators, decisions and policy, the
// closed set of error codes, masking, and the use cases that combine them.
//
// It imports only the standard library. Adapters (ui, devices, offline)
// depend on app and talk to each other only through the types and the small
// interfaces declared here; a test in this package enforces that.
package app
