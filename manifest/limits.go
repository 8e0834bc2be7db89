package manifest

// Limits are the per-invocation resource limits the sandbox enforces.
type Limits struct {
	CPUMs         int `json:"cpuMs"`
	WallMs        int `json:"wallMs"`
	MemoryMB      int `json:"memoryMb"`
	Subrequests   int `json:"subrequests"`
	ResponseBytes int `json:"responseBytes"`
	LogBytes      int `json:"logBytes"`
	// StorageBytes is not per invocation: it is the quota of what the
	// plugin keeps in ctx.kv and ctx.storage (keys, ids and JSON values).
	StorageBytes int `json:"storageBytes"`
	// EmailsPerHour is not per invocation either: it caps the messages the
	// plugin queues with ctx.email.send in any rolling hour.
	EmailsPerHour int `json:"emailsPerHour"`
}

// SiteDefaults are the limits of SPEC §6. A manifest may only lower them; Parse
// rejects a manifest that asks for more.
var SiteDefaults = Limits{
	CPUMs:         50,
	WallMs:        5000,
	MemoryMB:      64,
	Subrequests:   10,
	ResponseBytes: 1 << 20,
	LogBytes:      64 << 10,
	StorageBytes:  50 << 20,
	EmailsPerHour: 60,
}

// MaxRuntimeSchedules caps the schedules a plugin registers with
// ctx.cron.schedule (the manifest's own are capped by the schema at 16 too).
const MaxRuntimeSchedules = 16

// LimitRequest is the manifest's optional "limits" object. A nil field keeps the
// site's value; pointers are needed because 0 subrequests is a meaningful request.
type LimitRequest struct {
	CPUMs         *int `json:"cpuMs,omitempty"`
	WallMs        *int `json:"wallMs,omitempty"`
	MemoryMB      *int `json:"memoryMb,omitempty"`
	Subrequests   *int `json:"subrequests,omitempty"`
	ResponseBytes *int `json:"responseBytes,omitempty"`
	LogBytes      *int `json:"logBytes,omitempty"`
	StorageBytes  *int `json:"storageBytes,omitempty"`
	EmailsPerHour *int `json:"emailsPerHour,omitempty"`
}

// limitField ties one manifest limit to its site value, for the checks in Parse and
// for EffectiveLimits, so the two can never disagree about a field.
type limitField struct {
	key  string
	req  func(*LimitRequest) *int
	site func(*Limits) *int
}

var limitFields = []limitField{
	{"cpuMs", func(r *LimitRequest) *int { return r.CPUMs }, func(l *Limits) *int { return &l.CPUMs }},
	{"wallMs", func(r *LimitRequest) *int { return r.WallMs }, func(l *Limits) *int { return &l.WallMs }},
	{"memoryMb", func(r *LimitRequest) *int { return r.MemoryMB }, func(l *Limits) *int { return &l.MemoryMB }},
	{"subrequests", func(r *LimitRequest) *int { return r.Subrequests }, func(l *Limits) *int { return &l.Subrequests }},
	{"responseBytes", func(r *LimitRequest) *int { return r.ResponseBytes }, func(l *Limits) *int { return &l.ResponseBytes }},
	{"logBytes", func(r *LimitRequest) *int { return r.LogBytes }, func(l *Limits) *int { return &l.LogBytes }},
	{"storageBytes", func(r *LimitRequest) *int { return r.StorageBytes }, func(l *Limits) *int { return &l.StorageBytes }},
	{"emailsPerHour", func(r *LimitRequest) *int { return r.EmailsPerHour }, func(l *Limits) *int { return &l.EmailsPerHour }},
}

// WithDefaults returns l with every field that is not positive set to its
// SiteDefaults value.
func (l Limits) WithDefaults() Limits {
	for _, f := range limitFields {
		if v := f.site(&l); *v <= 0 {
			*v = *f.site(&SiteDefaults)
		}
	}
	return l
}

// EffectiveLimits returns the limits an invocation of this plugin runs under: the
// site's limits, lowered wherever the manifest asks for less. A manifest can never
// raise a limit, even if a site's limits are lower than SiteDefaults.
func (m *Manifest) EffectiveLimits(site Limits) Limits {
	out := site
	if m == nil || m.Limits == nil {
		return out
	}
	for _, f := range limitFields {
		if v := f.req(m.Limits); v != nil && *v < *f.site(&out) {
			*f.site(&out) = *v
		}
	}
	return out
}

// HookTimeoutMs returns the wall-time budget of one hook invocation: the hook's own
// timeoutMs if it declared one, else the effective wall limit, never more than it.
func (m *Manifest) HookTimeoutMs(h Hook, site Limits) int {
	wall := m.EffectiveLimits(site).WallMs
	if h.TimeoutMs > 0 && h.TimeoutMs < wall {
		return h.TimeoutMs
	}
	return wall
}
