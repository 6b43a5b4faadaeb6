//go:build race

package password_test

// raceEnabled reports whether the race detector is on; it slows bcrypt
// about twentyfold.
const raceEnabled = true
