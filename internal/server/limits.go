package server

import (
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/authsys-go/authsys/handlers"

	"github.com/authsys-go/authsys/internal/ratelimit"
)

// limit checks one request against the client IP's budget and then, when
// account is not empty, against the account's (a normalized email or a
// user ID), each a GCRA limit (see ratelimit.Limiter); a refused request
// gets 429 throttled with Retry-After, spends nothing from the budget that
// refused it, and the caller does no other work. Call it before any
// hashing or store lookup. A request refused by the IP budget is not
// checked against the account's. A limiter store failure is returned as
// is (503: the limits fail closed).
func (h *Handlers) limit(r *http.Request, scope string, rate ratelimit.Rate, account string) error {
	if ip, ok := h.ipBucket(r); ok {
		if err := h.limitKey(r, scope, rate, "ip:"+ip, ""); err != nil {
			return err
		}
	}
	if account == "" {
		return nil
	}
	return h.limitKey(r, scope, rate, "acct:"+account, "")
}

// ipBucket names the IP budget of r: the client's IPv4 address, or the /64
// of its IPv6 address (one host commonly holds a whole /64, so counting
// single IPv6 addresses would hand it 2^64 budgets). Without a client IP
// (a Unix-socket peer that Config.TrustedProxies does not trust) there is
// no IP budget, only the account's: pooling every such client in one
// budget would let one of them throttle all.
func (h *Handlers) ipBucket(r *http.Request) (string, bool) {
	if h.deps.ClientIP == nil {
		return "", false
	}
	ip := h.deps.ClientIP.ClientIP(r)
	switch {
	case !ip.IsValid():
		h.unknownIP.Do(func() {
			h.log.WarnContext(r.Context(), "authsys: a request has no client IP address (a Unix socket?); IP rate limits are skipped for such requests; add \"unix\" to Config.TrustedProxies to read X-Forwarded-For",
				slog.String("remote_addr", r.RemoteAddr))
		})
		return "", false
	case ip.Is6():
		return netip.PrefixFrom(ip, 64).Masked().String(), true
	}
	return ip.String(), true
}

// limitTwoFactor and limitTwoFactorDaily are the scopes of the 2FA code
// budgets, named as the limits in Config.RateLimits; their account key is
// the user ID.
const (
	limitTwoFactor      = "2fa_verify"
	limitTwoFactorDaily = "2fa_verify_daily"
)

// limitTwoFactorAccount checks a 2FA code attempt against both budgets of
// the account userID; 2FA endpoints learn the account only after a lookup
// guarded by their IP-only limit (verify-login) or from the session.
func (h *Handlers) limitTwoFactorAccount(r *http.Request, userID string) error {
	if err := h.limitKey(r, limitTwoFactor, h.deps.Limits.TwoFactor, "acct:"+userID, userID); err != nil {
		return err
	}
	return h.limitKey(r, limitTwoFactorDaily, h.deps.Limits.TwoFactorDaily, "acct:"+userID, userID)
}

// limitKey checks one request against the budget of scope:key; userID,
// when known, names the account in the throttled event.
func (h *Handlers) limitKey(r *http.Request, scope string, rate ratelimit.Rate, key, userID string) error {
	if rate.Zero() || h.deps.Limiter == nil {
		return nil
	}
	ok, retry, err := h.deps.Limiter.Allow(r.Context(), scope+":"+key, rate)
	if err != nil {
		return err
	}
	if !ok {
		h.emit(r, Event{Kind: handlers.EventThrottled, UserID: userID, Reason: scope})
		p := problem(http.StatusTooManyRequests, handlers.CodeThrottled, "request.throttled")
		p.RetryAfter = retry
		return p
	}
	return nil
}
