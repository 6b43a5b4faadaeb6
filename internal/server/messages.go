package server

import (
	"fmt"

	"github.com/authsys-go/authsys/internal/password"
)

// Codes of field errors (handlers.FieldError.Code).
const (
	fieldRequired      = "required"
	fieldInvalidEmail  = "invalid_email"
	fieldSameEmail     = "same_email"
	fieldWrongPassword = "wrong_password"
	fieldCodeOrPass    = "code_or_password_required"
	fieldTooLong       = "too_long"
	fieldOutOfRange    = "out_of_range"
	fieldInvalidCursor = "invalid_cursor"
	fieldInvalidName   = "invalid_name"
)

// fieldMessages are the English messages of the field error codes.
var fieldMessages = map[string]string{
	fieldRequired:          "This field is required.",
	fieldInvalidEmail:      "Enter a valid email address.",
	fieldSameEmail:         "This is already your email address.",
	fieldWrongPassword:     "The password is incorrect.",
	fieldCodeOrPass:        "Give a current code or your password.",
	fieldTooLong:           "Enter at most 254 characters.",
	fieldOutOfRange:        fmt.Sprintf("Enter a whole number from 1 to %d.", MaxAdminPageSize),
	fieldInvalidCursor:     "The cursor is invalid; use the next_cursor of a previous page.",
	fieldInvalidName:       fmt.Sprintf("Enter a name of at most %d printable characters.", maxPasskeyName),
	password.CodeTooShort:  fmt.Sprintf("This password is too short. It must contain at least %d characters.", password.MinLength),
	password.CodeTooLong:   fmt.Sprintf("This password is too long. It must contain at most %d characters.", password.MaxLength),
	password.CodeNumeric:   "This password is entirely numeric.",
	password.CodeLikeEmail: "This password is too similar to the email address.",
	password.CodeCommon:    "This password is too common.",
}
