package pwned_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/authsys-go/authsys"
	"github.com/authsys-go/authsys/pwned"
)

// A Checker turns on the breach check of an Auth. Only a password the
// policy accepts is checked; one found in breaches gets the field error
// password_breached.
func Example() {
	cfg := authsys.Config{
		// Users, Pending, Mailer, Keys, Links, Mail as usual.
		Passwords: authsys.Passwords{
			Breached: &pwned.Checker{Logger: slog.Default()},
		},
	}
	_ = cfg
}

func ExampleChecker_Breached() {
	// A stand-in for the API that has seen "P@ssw0rd" 42 times.
	sum := sha1.Sum([]byte("P@ssw0rd"))
	hash := strings.ToUpper(hex.EncodeToString(sum[:]))
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/range/"+hash[:5] {
			fmt.Fprintf(w, "%s:42\r\n", hash[5:])
		}
		fmt.Fprintf(w, "%035X:0\r\n", 1) // padding
	}))
	defer api.Close()

	c := &pwned.Checker{BaseURL: api.URL}
	for _, pw := range []string{"P@ssw0rd", "violet-otter-sings-42"} {
		breached, err := c.Breached(context.Background(), pw)
		fmt.Println(pw, breached, err)
	}
	// Output:
	// P@ssw0rd true <nil>
	// violet-otter-sings-42 false <nil>
}
