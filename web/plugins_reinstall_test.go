package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// Installing an id whose data survived an uninstall shows what it inherits,
// and a secret follows only where the admin agreed it would go.
func TestPluginReinstallInheritance(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	withSecrets := func(version, tokenHost string, exposed bool) map[string]any {
		m := kvManifest("heir", version)
		m["capabilities"] = []string{"network:request"}
		m["network"] = map[string]any{"allowedHosts": []string{"a.example", "b.example"}}
		m["settings"] = []map[string]any{
			{"key": "token", "label": "Token", "type": "secret", "inject": map[string]any{"host": tokenHost, "header": "Authorization: Bearer {value}"}},
			{"key": "signing", "label": "Signing", "type": "secret", "exposed": exposed},
			{"key": "steady", "label": "Steady", "type": "secret", "inject": map[string]any{"host": "a.example", "header": "X-Key: {value}"}},
			{"key": "greeting", "label": "Greeting", "type": "string"},
		}
		return m
	}
	first := admin.install(packPlugin(t, withSecrets("1.0.0", "a.example", false), kvSource), http.StatusCreated)
	if strings.Contains(string(admin.do("GET", "/api/plugins/heir", nil).Body), `"inherits"`) {
		t.Fatal("a first installation inherits nothing")
	}
	admin.consent(first)
	admin.do("PATCH", "/api/plugins/heir/settings", map[string]any{"token": "t-1", "signing": "s-1", "steady": "k-1", "greeting": "hi"}).want(http.StatusOK)
	admin.do("POST", "/api/p/heir/kv/set?key=a", `1`).want(http.StatusNoContent)
	admin.do("POST", "/api/p/heir/kv/set?key=b", `2`).want(http.StatusNoContent)
	admin.do("POST", "/api/p/heir/notes/put?id=n1", `"note"`).want(http.StatusCreated)
	admin.do("DELETE", "/api/plugins/heir?deleteData=false", nil).want(http.StatusNoContent)

	// The same id again: token now goes to another host, signing becomes
	// readable by the code, steady is unchanged.
	var in struct {
		Inherits struct {
			UninstalledVersion                 string
			KVKeys, StorageDocuments, Settings int
			Secrets                            []struct {
				Key    string
				Kept   bool
				Reason string
			}
		}
	}
	res := admin.uploadBundle("/api/plugins", "bundle", packPlugin(t, withSecrets("2.0.0", "b.example", true), kvSource)).want(http.StatusCreated)
	res.decode(&in)
	got := in.Inherits
	if got.UninstalledVersion != "1.0.0" || got.KVKeys != 2 || got.StorageDocuments != 1 || got.Settings != 1 {
		t.Fatalf("inherits = %+v (%s)", got, res.Body)
	}
	kept := map[string]string{}
	for _, s := range got.Secrets {
		if s.Kept {
			kept[s.Key] = ""
		} else {
			kept[s.Key] = s.Reason
		}
	}
	if len(kept) != 3 || kept["steady"] != "" || !strings.Contains(kept["token"], "another host") || !strings.Contains(kept["signing"], "read it") {
		t.Fatalf("secrets = %+v", got.Secrets)
	}
	var view struct{ SecretsSet []string }
	admin.do("GET", "/api/plugins/heir/settings", nil).want(http.StatusOK).decode(&view)
	if !slices.Equal(view.SecretsSet, []string{"steady"}) {
		t.Fatalf("secrets set after reinstall = %v, want only steady", view.SecretsSet)
	}
	// The consent screen says the same.
	page := string(admin.do("GET", "/admin/plugins/heir", nil).want(http.StatusOK).Body)
	for _, want := range []string{"2 keys", "1 storage document", "steady", "token", "another host"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	// After consent, the inheritance is simply the plugin's data.
	var info pluginInfo
	admin.do("GET", "/api/plugins/heir", nil).want(http.StatusOK).decode(&info)
	admin.consent(info)
	if strings.Contains(string(admin.do("GET", "/api/plugins/heir", nil).Body), `"inherits"`) {
		t.Fatal("inherits still shown after consent")
	}
	var v struct{ Value any }
	admin.do("GET", "/api/p/heir/kv/get?key=a", nil).want(http.StatusOK).decode(&v)
	if v.Value != float64(1) {
		t.Fatalf("kv a = %v", v.Value)
	}
}
