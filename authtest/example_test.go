package authtest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/authtest"
)

// A test of an application's protected route: the route is added to the
// Env's mux behind Auth.Middleware and called with the client of Login,
// then without a session.
func Example() {
	t := newExampleT() // in a test function: the test's *testing.T
	defer t.cleanup()

	env := authtest.New(t)
	env.Mux.Handle("GET /api/orders", env.Auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := authsys.UserFromContext(r.Context())
		fmt.Fprintf(w, "orders of %s", user.Email)
	})))

	client := env.Login(t, "alice@example.com", "correct horse battery staple")
	res, err := client.Get(env.URL + "/api/orders")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))

	res, err = env.Client().Get(env.URL + "/api/orders")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode)
	// Output:
	// 200 orders of alice@example.com
	// 401
}

// exampleT stands in for the *testing.T that a test function is given,
// so that the example runs: it panics on a failure and runs the cleanups
// when asked.
type exampleT struct {
	testing.TB // only the methods below are called
	cleanups   []func()
}

func newExampleT() *exampleT { return &exampleT{} }

func (t *exampleT) Helper()                           {}
func (t *exampleT) Context() context.Context          { return context.Background() }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
