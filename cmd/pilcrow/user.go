package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/storage"
)

const userUsage = `Usage: pilcrow user create --email E --role R [--name N] [--data DIR] [--database URL]

Adds a user to the site in --data. The password is read from standard input
(first line), or prompted for without echo when standard input is a terminal.

Roles: admin (everything), editor (all content and media), author (own entries and media).

Flags:
`

func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, userUsage)
			return 0
		}
		fmt.Fprint(stderr, "pilcrow user: expected \"create\"\n\n"+userUsage)
		return 2
	}
	fs := flag.NewFlagSet("pilcrow user create", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email address (required)")
	role := fs.String("role", "", "admin, editor or author (required)")
	name := fs.String("name", "", "display name")
	data := fs.String("data", "./pilcrow-data", "the site's data folder")
	database := fs.String("database", "", "the site's database, as pilcrow serve --database (default: sqlite under --data)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), userUsage); fs.PrintDefaults() }
	if code := parseFlags(fs, args[1:], stderr, false); code >= 0 {
		return code
	}
	if *email == "" || *role == "" {
		fmt.Fprintln(stderr, "pilcrow user create: --email and --role are required")
		return 2
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pilcrow user create: %v\n", err)
		return 2
	}
	if *database != "" {
		if _, err := storage.ParseDatabase(*database); err != nil {
			fmt.Fprintf(stderr, "pilcrow user create: --database: %v\n", err)
			return 2
		}
	}
	st, err := site.Open(ctx, site.Config{DataDir: *data, Database: *database})
	if err != nil {
		fmt.Fprintf(stderr, "pilcrow user create: %v\n", err)
		return 1
	}
	defer st.Close()
	u, err := st.Users.Create(ctx, cms.NewUser{Email: *email, Name: *name, Role: cms.Role(*role), Password: password})
	if err != nil {
		var ve *cms.ValidationError
		if errors.As(err, &ve) {
			for _, fe := range ve.Errors {
				fmt.Fprintf(stderr, "pilcrow user create: %s %s\n", strings.TrimPrefix(fe.Path, "/"), fe.Message)
			}
			return 1
		}
		fmt.Fprintf(stderr, "pilcrow user create: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "created %s %s (id %s)\n", u.Role, u.Email, u.ID)
	return 0
}

func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}
