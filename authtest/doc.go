// Package authtest runs an authsys.Auth for tests: an application's tests of
// its own protected routes, and the library's own.
//
// New starts an Env: an Auth on in-memory stores (store/memory) driven by a
// fake Clock, its emails kept in a mail.Outbox, served by an httptest.Server
// with the auth API at /api/auth/ and the admin API at /api/admin/auth/.
// The application adds its routes to Env.Mux, and Env.Login returns an
// *http.Client whose cookie jar holds a session:
//
//	env := authtest.New(t)
//	env.Mux.Handle("GET /api/orders", env.Auth.Middleware(orders))
//	client := env.Login(t, "alice@example.com", "correct horse battery staple")
//	res, err := client.Get(env.URL + "/api/orders")
//
// Spy wraps any UserStore and PendingStore, records the calls made through
// it and lets a test hook them to inject failures, delays or barriers; Clock
// is a fake clock to pass as Config.Now and to the stores.
package authtest
