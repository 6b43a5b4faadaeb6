package mail_test

import (
	"context"
	"fmt"

	"github.com/authsys-go/authsys/mail"
)

func ExampleTemplates_Render() {
	tpl := &mail.Templates{
		// Override one part; the other parts keep their defaults.
		PasswordReset: mail.Template{Subject: "{{.AppName}} password help"},
	}
	if err := tpl.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	msg, err := tpl.Render(mail.KindPasswordReset, "noreply@example.com", "jane@example.com", mail.Data{
		AppName:   "Acme",
		Email:     "jane@example.com",
		Link:      "https://app.example.com/reset?token=abc",
		ExpiresIn: "1 hour",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(msg.Subject)
	fmt.Println(msg.Links)
	// Output:
	// Acme password help
	// [https://app.example.com/reset?token=abc]
}

func ExampleOutbox() {
	var outbox mail.Outbox
	_ = outbox.Send(context.Background(), mail.Message{To: "jane@example.com", Kind: mail.KindVerifyAccount, Links: []string{"https://app.example.com/verify?token=abc"}})
	if msg, ok := outbox.Last("jane@example.com"); ok {
		fmt.Println(msg.Kind, msg.Links[0])
	}
	// Output: verify_account https://app.example.com/verify?token=abc
}

func ExampleMaskEmail() {
	fmt.Println(mail.MaskEmail("jane@example.com"))
	// Output: j***@example.com
}
