package manifest

import (
	"fmt"
	"slices"
)

// CtxUse says what is missing for a plugin granted caps, declaring hooks and
// the storage collections given to use ctx.<namespace>.<member> (member ""
// for the namespace alone), or "" when nothing is. It reads the vocabulary
// tables only, so a new capability's API is covered once it has its row.
// Names outside the vocabulary are not a grant's business (TypeScript
// reports them) and say nothing, as do members of an API that no capability
// provides.
func CtxUse(caps []Capability, hooks []HookName, collections []string, namespace, member string) string {
	for _, api := range CtxAPIs(caps, hooks...) {
		if api.Namespace != namespace {
			continue
		}
		switch {
		case member == "" || api.Kind == ValueAPI || api.Kind == FunctionAPI:
			return ""
		case api.Kind == CollectionAPI:
			if slices.Contains(collections, member) {
				return ""
			}
			return fmt.Sprintf("ctx.%s.%s is not a storage collection of the manifest; declare it under \"storage\"", namespace, member)
		case hasMethod(api, member):
			return ""
		}
		// Granted the namespace but not this method: a broader capability
		// of the same namespace has it.
		if c, ok := grantingCapability(namespace, member); ok {
			return fmt.Sprintf("ctx.%s.%s needs the %q capability, which the manifest does not declare", namespace, member, c)
		}
		return ""
	}
	// The namespace is not granted at all.
	if c, ok := grantingCapability(namespace, member); ok {
		what := "ctx." + namespace
		if member != "" {
			what += "." + member
		}
		return fmt.Sprintf("%s needs the %q capability, which the manifest does not declare; the plugin's ctx has no %s", what, c, "ctx."+namespace)
	}
	for _, s := range hookAPITable {
		if s.API.Namespace == namespace {
			return fmt.Sprintf("ctx.%s comes with the %s hook, which the manifest does not declare", namespace, s.Hook)
		}
	}
	return ""
}

func hasMethod(api *API, name string) bool {
	for _, m := range api.Methods {
		if m.Name == name {
			return true
		}
	}
	return false
}

// grantingCapability is the first capability in table order (the narrowest:
// reading comes before writing) whose API is namespace and, when member is
// given, has that method.
func grantingCapability(namespace, member string) (Capability, bool) {
	for _, s := range capabilityTable {
		if s.API == nil || s.API.Namespace != namespace {
			continue
		}
		if member == "" || s.API.Kind == ValueAPI || s.API.Kind == FunctionAPI || hasMethod(s.API, member) {
			return s.Name, true
		}
	}
	return "", false
}
