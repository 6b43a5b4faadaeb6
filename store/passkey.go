package store

import (
	"context"
	"errors"
	"slices"
	"time"
)

// ErrCredentialTaken is returned by PasskeyStore.CreatePasskey when a
// passkey with the same credential ID is already stored, whoever's it is.
var ErrCredentialTaken = errors.New("store: passkey credential already registered")

// Passkey is one WebAuthn credential of a user: a public key whose private
// half an authenticator (a phone, a laptop, a security key, a password
// manager) keeps. The library creates it at registration and moves its
// signature counter forward at every use (PasskeyStore.UsePasskey). None
// of its fields is a secret. Times are compared to the microsecond.
type Passkey struct {
	// ID is the passkey's random identifier, assigned by the library: what
	// the API names it by.
	ID string
	// UserID is the account the passkey belongs to.
	UserID string
	// Name is the label its owner gave it, e.g. "Work laptop".
	Name string
	// CredentialID is the credential ID the authenticator chose (at most
	// 1023 bytes); unique among all passkeys.
	CredentialID []byte
	// UserHandle is the WebAuthn user handle the credential was created
	// with: random bytes shared by the passkeys of one account, never its
	// ID or email.
	UserHandle []byte
	// PublicKey is the credential's public key, COSE-encoded.
	PublicKey []byte
	// SignCount is the authenticator's signature counter at the last use
	// (or the registration); zero for authenticators that keep none.
	SignCount uint32
	// AAGUID identifies the authenticator's model (16 bytes, all zero when
	// unknown).
	AAGUID []byte
	// Transports are the ways the browser may reach the authenticator
	// ("internal", "hybrid", "usb", "nfc", "ble"), as it reported them.
	Transports []string
	// AttestationFormat is the format of the registration's attestation
	// statement, e.g. "none" or "packed".
	AttestationFormat string
	// BackupEligible reports that the credential may be synced to other
	// devices (a passkey in a password manager); fixed at registration.
	BackupEligible bool
	// BackupState reports that the credential was backed up (synced) at
	// its last use.
	BackupState bool
	// CreatedAt is the registration's time.
	CreatedAt time.Time
	// LastUsedAt is the time of the last use; zero if never used.
	LastUsedAt time.Time
}

// Clone returns a deep copy of p, so that callers never alias a store's
// internal state.
func (p Passkey) Clone() Passkey {
	p.CredentialID = slices.Clone(p.CredentialID)
	p.UserHandle = slices.Clone(p.UserHandle)
	p.PublicKey = slices.Clone(p.PublicKey)
	p.AAGUID = slices.Clone(p.AAGUID)
	p.Transports = slices.Clone(p.Transports)
	return p
}

// PasskeyStore is an optional capability of a UserStore: the passkeys
// (WebAuthn credentials) of its accounts. The library needs it when
// Config.Passkeys is set; the memory, SQLite and PostgreSQL stores of this
// module implement it. A store that keeps accounts should delete a user's
// passkeys with the user (the SQL stores do, with a foreign key).
// Implementations must be safe for concurrent use and return copies. Times
// are kept to the microsecond, in any location (the zero time stays zero);
// an empty byte or string slice may come back as nil. Every method honours
// ctx's deadline; a backend that cannot answer (unreachable, closed, or not
// answering before the deadline) returns an error wrapping ErrUnavailable,
// never a bare driver error. A call whose ctx has already ended returns
// promptly an error wrapping both ErrUnavailable and ctx.Err(), and
// changes nothing.
//
// Run storetest.RunPasskeyStore against an implementation to prove it.
type PasskeyStore interface {
	// CreatePasskey stores p. A credential ID already stored (for any
	// user) gives ErrCredentialTaken, an ID already stored an error
	// wrapping neither ErrCredentialTaken, ErrNotFound nor ErrUnavailable;
	// either way nothing is stored.
	CreatePasskey(ctx context.Context, p Passkey) error
	// PasskeysByUser returns the passkeys of userID, oldest CreatedAt
	// first (ties by ID); none for an unknown user.
	PasskeysByUser(ctx context.Context, userID string) ([]Passkey, error)
	// PasskeyByCredentialID returns the passkey whose CredentialID equals
	// credentialID byte for byte, or ErrNotFound.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// UsePasskey records a use of the passkey id whose authenticator
	// reported the signature counter signCount. It is one conditional
	// write: if signCount is greater than the stored SignCount, or both
	// are zero (an authenticator that keeps no counter), it sets SignCount
	// to signCount, BackupState to backupState and LastUsedAt to at, and
	// returns the updated passkey and true. Otherwise (a counter that did
	// not move forward: a cloned authenticator, or a replay) it changes
	// nothing and returns the passkey as stored and false. Of concurrent
	// callers with the same non-zero signCount exactly one gets true.
	// Unknown id: ErrNotFound.
	UsePasskey(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) (Passkey, bool, error)
	// RenamePasskey sets the Name of the passkey id of userID and returns
	// the passkey; ErrNotFound when userID has no passkey id.
	RenamePasskey(ctx context.Context, userID, id, name string) (Passkey, error)
	// DeletePasskey deletes the passkey id of userID and returns it as it
	// was; ErrNotFound when userID has no passkey id.
	DeletePasskey(ctx context.Context, userID, id string) (Passkey, error)
}
