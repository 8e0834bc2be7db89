package main

import (
	"strings"
	"testing"
)

// `plugin run` has no mail server: ctx.email.send succeeds so the hook can
// be tried, and the output says plainly the message was not sent.
func TestPluginRunSaysMailIsNotSent(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, `{"id": "notify", "version": "1.0.0", "name": "Notify", "capabilities": ["content:read", "email:send"], "hooks": ["content:afterSave"]}`,
		`export default { hooks: { "content:afterSave": async (event: any, ctx: any) => {
	await ctx.email.send({ to: "editor@example.com", subject: "Saved", text: "An entry was saved" });
} } };`)
	code, out, errOut := cli(t, "plugin", "run", dir, "--hook", "content:afterSave")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, w := range []string{"email NOT SENT", "editor@example.com", "Saved"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

// serve refuses a mail setting that cannot work before it opens anything.
func TestServeRefusesBadMailSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--smtp", "smtp://mail.example.com:25?insecure=true", "--mail-from", "a@example.com"}, "only to a loopback host"},
		{[]string{"--smtp", "smtp://mail.example.com"}, "--mail-from"},
		{[]string{"--smtp", "ftp://mail.example.com", "--mail-from", "a@example.com"}, "smtp://"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tt.args...)
			code, _, errOut := cli(t, args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant %q", code, errOut, tt.want)
			}
		})
	}
}
