package manifest

// Capability names one grant from the closed capability vocabulary (SPEC §5).
type Capability string

// The whole capability vocabulary. Anything else in a manifest is an error.
const (
	ContentRead    Capability = "content:read"
	ContentWrite   Capability = "content:write"
	MediaRead      Capability = "media:read"
	MediaWrite     Capability = "media:write"
	UsersRead      Capability = "users:read"
	NetworkRequest Capability = "network:request"
	EmailSend      Capability = "email:send"
	PageMetadata   Capability = "page:metadata"
)

// AllCapabilities returns the vocabulary in its canonical order (the order consent
// lines are shown in).
func AllCapabilities() []Capability {
	return []Capability{ContentRead, ContentWrite, MediaRead, MediaWrite, UsersRead, NetworkRequest, EmailSend, PageMetadata}
}

// Known reports whether c is in the vocabulary.
func (c Capability) Known() bool {
	_, ok := capabilityOrder[c]
	return ok
}

var capabilityOrder = func() map[Capability]int {
	m := map[Capability]int{}
	for i, c := range AllCapabilities() {
		m[c] = i
	}
	return m
}()

// implied lists what a capability grants beyond itself: writing content or media
// needs reading it (an update without a get is not useful, and the admin consenting
// to "change your content" has already consented to it being read).
var implied = map[Capability]Capability{
	ContentWrite: ContentRead,
	MediaWrite:   MediaRead,
}

// HookName names one hook from the closed hook vocabulary.
type HookName string

// The whole hook vocabulary.
const (
	HookInstall           HookName = "plugin:install"
	HookActivate          HookName = "plugin:activate"
	HookDeactivate        HookName = "plugin:deactivate"
	HookUninstall         HookName = "plugin:uninstall"
	HookBeforeSave        HookName = "content:beforeSave"
	HookAfterSave         HookName = "content:afterSave"
	HookBeforeDelete      HookName = "content:beforeDelete"
	HookAfterDelete       HookName = "content:afterDelete"
	HookAfterPublish      HookName = "content:afterPublish"
	HookAfterUnpublish    HookName = "content:afterUnpublish"
	HookMediaBeforeUpload HookName = "media:beforeUpload"
	HookMediaAfterUpload  HookName = "media:afterUpload"
	HookCron              HookName = "cron"
	HookPageMetadata      HookName = "page:metadata"
)

// hookGates is the gating table: the capability a manifest must declare (directly or
// by implication, see Manifest.Grants) before it may declare the hook. "" means the
// hook needs no capability.
//
//	hook                     needs            why
//	plugin:install           -                lifecycle of the plugin itself
//	plugin:activate          -
//	plugin:deactivate        -
//	plugin:uninstall         -
//	content:beforeSave       content:write    may change or reject the entry being saved
//	content:beforeDelete     content:write    may veto a deletion
//	content:afterSave        content:read     sees the saved entry's data
//	content:afterDelete      content:read     sees the deleted entry
//	content:afterPublish     content:read     sees the published entry
//	content:afterUnpublish   content:read     sees the unpublished entry
//	media:beforeUpload       media:write      may change or reject an upload
//	media:afterUpload        media:read       sees the uploaded media item
//	cron                     -                runs on the manifest's schedules (needs "cron" entries)
//	page:metadata            page:metadata    contributes to public pages
var hookGates = map[HookName]Capability{
	HookInstall:           "",
	HookActivate:          "",
	HookDeactivate:        "",
	HookUninstall:         "",
	HookBeforeSave:        ContentWrite,
	HookBeforeDelete:      ContentWrite,
	HookAfterSave:         ContentRead,
	HookAfterDelete:       ContentRead,
	HookAfterPublish:      ContentRead,
	HookAfterUnpublish:    ContentRead,
	HookMediaBeforeUpload: MediaWrite,
	HookMediaAfterUpload:  MediaRead,
	HookCron:              "",
	HookPageMetadata:      PageMetadata,
}

// AllHooks returns the hook vocabulary in its canonical order.
func AllHooks() []HookName {
	return []HookName{
		HookInstall, HookActivate, HookDeactivate, HookUninstall,
		HookBeforeSave, HookAfterSave, HookBeforeDelete, HookAfterDelete,
		HookAfterPublish, HookAfterUnpublish,
		HookMediaBeforeUpload, HookMediaAfterUpload,
		HookCron, HookPageMetadata,
	}
}

// Known reports whether h is in the hook vocabulary.
func (h HookName) Known() bool {
	_, ok := hookGates[h]
	return ok
}

// Gate returns the capability that gates the hook ("" when none is needed).
func (h HookName) Gate() Capability { return hookGates[h] }

// Synchronous reports whether the hook runs inside the request that triggered it
// (the "before" hooks and page:metadata), so its timeout delays that request.
func (h HookName) Synchronous() bool {
	switch h {
	case HookBeforeSave, HookBeforeDelete, HookMediaBeforeUpload, HookPageMetadata:
		return true
	}
	return false
}
