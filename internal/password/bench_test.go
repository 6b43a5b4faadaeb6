package password_test

import (
	"testing"

	"github.com/authsys-go/authsys/internal/password"
)

func BenchmarkHashDefault(b *testing.B) {
	h := password.NewHasher(password.DefaultParams(), 0)
	for b.Loop() {
		if _, err := h.Hash(b.Context(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := password.NewHasher(password.DefaultParams(), 0)
	encoded, err := h.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(b.Context(), "correct horse battery staple", encoded); err != nil || !ok {
			b.Fatalf("got ok=%v err=%v, want true nil", ok, err)
		}
	}
}

func BenchmarkVerifyDjangoPBKDF2(b *testing.B) {
	var v djangoVector
	for _, v = range loadDjangoVectors(b) {
		if v.Algorithm == "pbkdf2_sha256" && v.Matches {
			break
		}
	}
	if v.Algorithm != "pbkdf2_sha256" || !v.Matches {
		b.Fatal("got no matching pbkdf2_sha256 vector, want one")
	}
	h := password.NewHasher(password.DefaultParams(), 0)
	for b.Loop() {
		if ok, _, err := h.Verify(b.Context(), v.Password, v.Encoded); err != nil || !ok {
			b.Fatalf("got ok=%v err=%v, want true nil", ok, err)
		}
	}
}
