package site

import (
	"log/slog"

	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// LocalPluginServices are the services `pilcrow plugin run` and `plugin
// test` give the plugin they run outside the plugin manager (nothing is
// installed): this site's plugin data, content, media and users, so what
// one run writes the next one reads. Mail is printed to log instead of
// being sent, and ctx.cron schedules are kept but never run (no manager
// runs them).
func (s *Site) LocalPluginServices(log *slog.Logger, unsafeAllowLoopback bool) *plugins.Services {
	return &plugins.Services{
		Data:    storage.NewPluginData(s.DB),
		Egress:  egress.New(egress.Options{UnsafeAllowLoopback: unsafeAllowLoopback, Logger: log}),
		Content: pluginContent{s.Content},
		Users:   plugins.UserDirectory{Users: s.Users},
		Media:   pluginMedia{s.Media},
		Mail:    plugins.LogMailer{Log: log},
		Cron:    plugins.NewCronRunner(s.DB, nil, plugins.CronConfig{Log: log}),
		Site:    s.info,
	}
}
