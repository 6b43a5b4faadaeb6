package main

import (
	"crypto/sha256"
	"encoding/base64"
)

// resetScript posts the reset form as JSON to the API.
const resetScript = `
const q = new URLSearchParams(location.search);
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await fetch("/api/auth/password-reset-confirm/", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({uid: q.get("uid"), token: q.get("token"), new_password: document.getElementById("pw").value}),
  });
  const body = await res.json();
  document.getElementById("out").textContent = res.ok ? body.message : (body.detail + " " + JSON.stringify(body.errors || {}));
});
`

var resetScriptHash = func() string {
	sum := sha256.Sum256([]byte(resetScript))
	return base64.StdEncoding.EncodeToString(sum[:])
}()

var resetPage = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Reset your password</title>
<form id="f"><label>New password <input id="pw" type="password" autocomplete="new-password" required minlength="8"></label>
<button>Reset password</button></form><p id="out" role="status"></p>
<script>` + resetScript + `</script></html>
`
