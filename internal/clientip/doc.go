// Package clientip finds the IP address of the client behind an HTTP
// request, for rate limiting and logging. It believes X-Forwarded-For only
// as far as the configured trusted proxies vouch for it, so that a client
// cannot choose its own address by sending the header.
package clientip
