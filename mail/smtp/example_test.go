package smtp_test

import (
	"context"
	"fmt"
	"log"

	"github.com/authsys-go/authsys/mail"
	"github.com/authsys-go/authsys/mail/smtp"
)

func ExampleParseURL() {
	cfg, err := smtp.ParseURL("smtps://apikey:s%40cret@mail.example.com?from=noreply%40example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Host, cfg.Port, cfg.TLS, cfg.Username, cfg.From)
	// Output: mail.example.com 0 implicit apikey noreply@example.com
}

func ExampleNew() {
	m, err := smtp.New(smtp.Config{
		Host:     "mail.example.com", // STARTTLS on port 587 by default
		Username: "apikey",
		Password: "secret",
		From:     "Acme <noreply@example.com>",
	})
	if err != nil {
		log.Fatal(err)
	}
	var mailer mail.Mailer = m
	msg, err := (*mail.Templates)(nil).Render(mail.KindVerifyAccount, "", "jane@example.com", mail.Data{
		AppName: "Acme", Email: "jane@example.com", Link: "https://app.example.com/verify?token=abc", ExpiresIn: "3 days",
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := mailer.Send(context.Background(), msg); err != nil {
		log.Print(err)
	}
}
