package handlers

// Signup is a signup request as authsys.Hooks.BeforeSignup sees it, after
// its fields were validated: the address and the application's declared
// profile fields. It never holds the password.
type Signup struct {
	// Email is the normalized address. Whether an account already has it
	// is not known yet.
	Email string
	// Profile holds the values of the declared profile fields the request
	// gave (authsys.Profile), by name, as their Validate functions
	// returned them; the Private ones included. Nil when it gave none.
	Profile map[string]any
}
