// Package handlers is the vocabulary of the HTTP API that authsys serves:
// the problem details its errors are rendered as and their stable codes, the
// security events it emits and their kinds, the admin actions, and the
// OpenAPI document that describes every endpoint, and what the application's
// hooks receive.
//
// Applications need not import it: the root package re-exports every name
// here (authsys.Problem, authsys.CodeThrottled, authsys.Event,
// authsys.EventLoginFailed, authsys.AdminDeactivate, authsys.Signup), and
// an Auth serves its own OpenAPI document (authsys.Auth.OpenAPIDocument:
// this one with the application's profile fields). The endpoints themselves are served by
// authsys.Auth's Handler and AdminHandler.
package handlers
