package admin

import "testing"

func TestPlural(t *testing.T) {
	plural := adminFuncs["plural"].(func(any, string, string) string)
	for _, tc := range []struct {
		n    any
		want string
	}{
		{0, "0 errors"},
		{1, "1 error"},
		{int64(1), "1 error"},
		{2, "2 errors"},
		{int64(11), "11 errors"},
	} {
		if got := plural(tc.n, "error", "errors"); got != tc.want {
			t.Errorf("plural(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
