package server

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/authsys-go/authsys/handlers"
)

// parseDir parses the non-test Go files of dir.
func parseDir(t *testing.T, dir string) map[string]*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(name)] = f
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return files
}

// stringLit returns the value of e when it is a string literal.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// keyArg names, for each function that takes a message key, the index of
// that argument; success marks those whose key is a success code.
var keyArg = map[string]struct {
	index   int
	success bool
}{
	"problem":            {2, false},
	"writeMessage":       {2, true},
	"writeMessageStatus": {3, true},
	"writeMessageTokens": {3, true},
	"text":               {1, false}, // locales.text, for the words of emails
}

// passKeys are the functions that pass on a key they were given.
var passKeys = map[string]bool{"writeMessage": true, "writeMessageStatus": true, "writeMessageTokens": true, "problem": true}

// TestCatalogKeys checks the catalog against the handlers' sources: every
// call that names a message does so with a literal key of the English
// catalog (no sentence, no computed key) and the placeholders it fills are
// the text's; every key of the catalog is named by some call; every field
// error code has a message and every message a code in use; no English
// text of the catalog is left as a literal elsewhere; and the success
// codes are exactly those the OpenAPI document lists.
func TestCatalogKeys(t *testing.T) {
	files := parseDir(t, ".")
	used := map[string]bool{}
	success := map[string]bool{}
	texts := map[string]string{} // English text → key
	for k, v := range english {
		texts[v] = k
	}
	for name, f := range files {
		var fnDecl string // the function being walked
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				fnDecl = n.Name.Name
			case *ast.CallExpr:
				var fn string
				switch fun := n.Fun.(type) {
				case *ast.Ident:
					fn = fun.Name
				case *ast.SelectorExpr:
					fn = fun.Sel.Name
				}
				spec, ok := keyArg[fn]
				if !ok || len(n.Args) <= spec.index || name == "messages.go" && fn != "problem" {
					return true
				}
				key, lit := stringLit(n.Args[spec.index])
				if !lit && passKeys[fnDecl] {
					return true // passes on the key it was given
				}
				if !lit {
					t.Errorf("%s: %s is called with a key that is not a string literal", name, fn)
					return true
				}
				text, known := english[key]
				if !known {
					t.Errorf("%s: %s(%q): not a key of the English catalog", name, fn, key)
					return true
				}
				used[key] = true
				if spec.success {
					success[key] = true
				}
				if fn == "problem" {
					var names []string
					for i := spec.index + 1; i < len(n.Args); i += 2 {
						if s, ok := stringLit(n.Args[i]); ok {
							names = append(names, s)
						} else {
							t.Errorf("%s: problem(%q) names a placeholder with a non-literal", name, key)
						}
					}
					slices.Sort(names)
					if want := placeholders(text); !slices.Equal(names, want) {
						t.Errorf("%s: problem(%q) fills %v; its text has %v", name, key, names, want)
					}
				}
			case *ast.BasicLit:
				if name == "messages.go" {
					return true
				}
				if s, ok := stringLit(n); ok {
					if key, found := texts[s]; found && s != "" {
						t.Errorf("%s: the English text of %q is a literal; name its key", name, key)
					}
				}
			}
			return true
		})
	}
	for key := range messages {
		if !used[key] {
			t.Errorf("catalog key %q is named by no call", key)
		}
	}

	// Field error codes: the server's (constants in messages.go, each used
	// elsewhere) and those of package password (each one Validate may
	// return).
	serverCodes := map[string]string{} // code → constant
	for _, d := range files["messages.go"].Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				if v, ok := stringLit(vs.Values[i]); ok && strings.HasPrefix(id.Name, "field") && id.Name != "fieldKeyPrefix" {
					serverCodes[v] = id.Name
				}
			}
		}
	}
	idents := map[string]bool{}
	for name, f := range files {
		if name == "messages.go" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				idents[id.Name] = true
			}
			return true
		})
	}
	passwordCodes := map[string]bool{}
	for _, f := range parseDir(t, "../password") {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					if v, ok := stringLit(vs.Values[i]); ok && strings.HasPrefix(id.Name, "Code") {
						passwordCodes[v] = true
					}
				}
			}
		}
	}
	if len(serverCodes) == 0 || len(passwordCodes) == 0 {
		t.Fatalf("found %d server and %d password field codes; the test no longer reads the sources", len(serverCodes), len(passwordCodes))
	}
	for code, name := range serverCodes {
		if _, ok := fieldMessages[code]; !ok {
			t.Errorf("field code %s (%q) has no message", name, code)
		}
		if !idents[name] {
			t.Errorf("field code %s (%q) is used nowhere", name, code)
		}
	}
	for code := range passwordCodes {
		if _, ok := fieldMessages[code]; !ok {
			t.Errorf("password code %q has no message", code)
		}
	}
	for code := range fieldMessages {
		if serverCodes[code] == "" && !passwordCodes[code] {
			t.Errorf("field message %q belongs to no code", code)
		}
	}

	// Placeholders of the field messages are all filled, by fieldArgs.
	for code, text := range fieldMessages {
		key := fieldKeyPrefix + code
		if got, want := slices.Sorted(maps.Keys(fieldArgs[key])), placeholders(text); !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Errorf("fieldArgs[%q] fills %v; the text has %v", key, got, want)
		}
	}
	for key := range fieldArgs {
		if _, ok := english[key]; !ok || !strings.HasPrefix(key, fieldKeyPrefix) {
			t.Errorf("fieldArgs[%q]: not a field message key", key)
		}
	}

	// The success codes are the OpenAPI document's.
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(handlers.OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, item := range doc.Paths {
		for _, op := range item {
			var o struct {
				Responses map[string]struct {
					Content map[string]struct {
						Schema struct {
							AllOf []struct {
								Ref        string `json:"$ref"`
								Properties struct {
									Code struct{ Enum []string }
								}
							}
						}
					}
				}
			}
			if json.Unmarshal(op, &o) != nil {
				continue
			}
			for _, resp := range o.Responses {
				for _, part := range resp.Content["application/json"].Schema.AllOf {
					for _, c := range part.Properties.Code.Enum {
						documented[c] = true
					}
				}
			}
		}
	}
	if got, want := slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(success)); !slices.Equal(got, want) {
		t.Errorf("the OpenAPI document lists the success codes\n%q\nthe handlers send\n%q", got, want)
	}
}

// TestFormat checks the filling of placeholders.
func TestFormat(t *testing.T) {
	args := map[string]string{"n": "3", "field": `"x"`}
	for _, tt := range []struct{ in, want string }{
		{"{n} days", "3 days"},
		{"Unknown field {field}.", `Unknown field "x".`},
		{"{n}{n}", "33"},
		{"{missing} and {n}", "{missing} and 3"},
		{"{N} {n", "{N} {n"},
		{"{ n }", "{ n }"},
		{"{{n}}", "{3}"},
		{"no placeholder", "no placeholder"},
	} {
		if got := format(tt.in, args); got != tt.want {
			t.Errorf("format(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := placeholders("{b} {a} {b} {A} {c"), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("placeholders = %q, want %q", got, want)
	}
}
