package server

import "github.com/authsys-go/authsys/handlers"

// The public vocabulary, under the short names the handlers use.
type (
	// Problem is an error response; see handlers.Problem.
	Problem = handlers.Problem
	// Event is a security event; see handlers.Event.
	Event = handlers.Event
)
