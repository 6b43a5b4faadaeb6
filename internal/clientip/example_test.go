package clientip_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/authsys-go/authsys/internal/clientip"
)

func ExampleResolver_ClientIP() {
	r, err := clientip.New([]string{"10.0.0.0/8"}) // the load balancers
	if err != nil {
		panic(err)
	}

	req := httptest.NewRequest("POST", "/api/auth/login/", nil)
	req.RemoteAddr = "10.0.0.1:443"
	req.Header.Set("X-Forwarded-For", "1.2.3.4, 203.0.113.7, 10.0.0.2")
	fmt.Println(r.ClientIP(req)) // 1.2.3.4 is whatever the client wrote

	req.RemoteAddr = "198.51.100.9:51000" // not a proxy: the header is ignored
	fmt.Println(r.ClientIP(req))
	// Output:
	// 203.0.113.7
	// 198.51.100.9
}
