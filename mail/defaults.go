package mail

// The built-in templates. They load nothing remote (no images, no tracking
// pixels, no scripts) and put no user-supplied data in the subject line.

// htmlHead opens every default HTML body; it is followed by the title.
const htmlHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>`

// htmlBodyOpen ends the head of every default HTML body.
const htmlBodyOpen = `</title>
</head>
<body style="font-family: sans-serif; line-height: 1.5; max-width: 36em;">
`

// htmlFoot closes every default HTML body.
const htmlFoot = `</body>
</html>
`

// htmlButton renders the action link of a default HTML body with the given
// label, and the bare address for clients that do not follow links.
func htmlButton(label string) string {
	return `<p><a href="{{.Link}}" style="display: inline-block; padding: 0.6em 1.2em; background: #1a56db; color: #ffffff; text-decoration: none; border-radius: 4px;">` + label + `</a></p>
<p>If the button does not work, copy this address into your browser:<br>{{.Link}}</p>
`
}

var defaultVerifyAccount = Template{
	Subject: `{{with .AppName}}{{.}}: {{end}}Confirm your email address`,
	Text: `Hello,

Confirm your email address{{with .AppName}} for {{.}}{{end}} by opening this link:

{{.Link}}

{{with .ExpiresIn}}The link expires in {{.}}. {{end}}If you did not sign up, ignore this email.
`,
	HTML: htmlHead + `Confirm your email address` + htmlBodyOpen + `<p>Hello,</p>
<p>Confirm your email address{{with .AppName}} for {{.}}{{end}} by opening this link:</p>
` + htmlButton("Confirm your email address") + `<p>{{with .ExpiresIn}}The link expires in {{.}}. {{end}}If you did not sign up, ignore this email.</p>
` + htmlFoot,
}

var defaultPasswordReset = Template{
	Subject: `{{with .AppName}}{{.}}: {{end}}Reset your password`,
	Text: `Hello,

Someone asked to reset the password of your{{with .AppName}} {{.}}{{end}} account ({{.Email}}). To choose a new password, open this link:

{{.Link}}

{{with .ExpiresIn}}The link expires in {{.}}. {{end}}If you did not ask, ignore this email; your password is unchanged.
`,
	HTML: htmlHead + `Reset your password` + htmlBodyOpen + `<p>Hello,</p>
<p>Someone asked to reset the password of your{{with .AppName}} {{.}}{{end}} account ({{.Email}}). To choose a new password, open this link:</p>
` + htmlButton("Choose a new password") + `<p>{{with .ExpiresIn}}The link expires in {{.}}. {{end}}If you did not ask, ignore this email; your password is unchanged.</p>
` + htmlFoot,
}

var defaultEmailChangeConfirm = Template{
	Subject: `{{with .AppName}}{{.}}: {{end}}Confirm your new email address`,
	Text: `Hello,

You asked to change the email address of your{{with .AppName}} {{.}}{{end}} account to {{.NewEmail}}. To confirm this address, open this link:

{{.Link}}

{{with .ExpiresIn}}The link expires in {{.}}. {{end}}If you did not ask, ignore this email; nothing changes.
`,
	HTML: htmlHead + `Confirm your new email address` + htmlBodyOpen + `<p>Hello,</p>
<p>You asked to change the email address of your{{with .AppName}} {{.}}{{end}} account to {{.NewEmail}}. To confirm this address, open this link:</p>
` + htmlButton("Confirm your new email address") + `<p>{{with .ExpiresIn}}The link expires in {{.}}. {{end}}If you did not ask, ignore this email; nothing changes.</p>
` + htmlFoot,
}

var defaultEmailChangedNotice = Template{
	Subject: `{{with .AppName}}{{.}}: {{end}}Your email address was changed`,
	Text: `Hello,

The email address of your{{with .AppName}} {{.}}{{end}} account was changed to {{mask .NewEmail}}. Messages about your account now go to that address.

If you made this change, no action is needed. If you did not, someone else may have access to your account: {{if .Link}}reset your password at {{.Link}} and {{end}}contact support.
`,
	HTML: htmlHead + `Your email address was changed` + htmlBodyOpen + `<p>Hello,</p>
<p>The email address of your{{with .AppName}} {{.}}{{end}} account was changed to {{mask .NewEmail}}. Messages about your account now go to that address.</p>
<p>If you made this change, no action is needed. If you did not, someone else may have access to your account: {{if .Link}}<a href="{{.Link}}">reset your password</a> and {{end}}contact support.</p>
` + htmlFoot,
}

var defaultSignupAttempt = Template{
	Subject: `{{with .AppName}}{{.}}: {{end}}Sign-up attempt with your email address`,
	Text: `Hello,

Someone tried to sign up{{with .AppName}} for {{.}}{{end}} with this email address ({{.Email}}), but it already has an account, so no new account was created.

If it was you, log in with your existing account. If you forgot your password, reset it here:

{{.Link}}

If it was not you, ignore this email; nothing has changed.
`,
	HTML: htmlHead + `Sign-up attempt with your email address` + htmlBodyOpen + `<p>Hello,</p>
<p>Someone tried to sign up{{with .AppName}} for {{.}}{{end}} with this email address ({{.Email}}), but it already has an account, so no new account was created.</p>
<p>If it was you, log in with your existing account. If you forgot your password, reset it here:</p>
` + htmlButton("Reset your password") + `<p>If it was not you, ignore this email; nothing has changed.</p>
` + htmlFoot,
}

var defaultEmailChangeRequested = Template{
	Subject: `{{with .AppName}}{{.}}: {{end}}A change of your email address was requested`,
	Text: `Hello,

Someone asked to change the email address of your{{with .AppName}} {{.}}{{end}} account to {{mask .NewEmail}}. The change happens only when that address confirms it.

If it was you, no action is needed. If it was not, someone else may have access to your account: reset your password now, which logs out every session and cancels the change:

{{.Link}}
{{with .ExpiresIn}}
The link expires in {{.}}.
{{end}}`,
	HTML: htmlHead + `A change of your email address was requested` + htmlBodyOpen + `<p>Hello,</p>
<p>Someone asked to change the email address of your{{with .AppName}} {{.}}{{end}} account to {{mask .NewEmail}}. The change happens only when that address confirms it.</p>
<p>If it was you, no action is needed. If it was not, someone else may have access to your account: reset your password now, which logs out every session and cancels the change.</p>
` + htmlButton("Reset your password") + `<p>{{with .ExpiresIn}}The link expires in {{.}}.{{end}}</p>
` + htmlFoot,
}

// notice returns the default template of a security notice: title, then
// what happened, then what to do if it was not the owner.
func notice(title, what string) Template {
	return Template{
		Subject: `{{with .AppName}}{{.}}: {{end}}` + title,
		Text: `Hello,

` + what + `

If it was you, no action is needed. If it was not, someone else may have access to your account: reset your password now, which logs out every session:

{{.Link}}
`,
		HTML: htmlHead + title + htmlBodyOpen + `<p>Hello,</p>
<p>` + what + `</p>
<p>If it was you, no action is needed. If it was not, someone else may have access to your account: reset your password now, which logs out every session.</p>
` + htmlButton("Reset your password") + htmlFoot,
	}
}
