#include "backends/backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct backend *const table[] = {
	&backend_proxy,
	&backend_dir,
	&backend_rpc,
	&backend_text,
	&backend_upstream,
};
#define NBACKENDS (sizeof(table) / sizeof(table[0]))

const struct backend *backend_find(const char *name)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (strcmp(table[i]->name, name) == 0)
			return table[i];
	return NULL;
}

bool backend_refuse(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return false;
}

bool backend_check(const struct route_spec *s, char *why, size_t whylen)
{
	const struct backend *b = backend_find(s->backend);
	if (!b) {
		size_t o = (size_t)snprintf(why, whylen, "backend '%.40s:' must be one of", s->backend);
		for (size_t i = 0; i < NBACKENDS && o < whylen; i++)
			o += (size_t)snprintf(why + o, whylen - o, "%s %s", i ? "," : "",
					      table[i]->usage);
		return false;
	}
	if (s->timeout && !b->takes_timeout)
		return backend_refuse(why, whylen, "timeout= does not apply to %s: routes", b->name);
	return !b->check || b->check(s, why, whylen);
}

bool backends_start(char *why, size_t whylen)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (table[i]->start && !table[i]->start()) {
			snprintf(why, whylen, "cannot start the %s backend", table[i]->name);
			return false;
		}
	return true;
}

void backends_stop(void)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (table[i]->stop)
			table[i]->stop();
}

bool backend_subpath_plain(const char *p)
{
	if (strchr(p, '\\'))
		return false;
	while (*p) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
	}
	return true;
}

void backend_keep(const struct keep *k, unsigned status, const char *content_type,
		  const char *body, size_t len)
{
	if (k->kept && len <= k->max)
		k->kept(k->key, status, content_type ? content_type : "", body, len);
}

void backend_settle(struct meter *m, uint64_t cost_msat)
{
	if (m->ops)
		m->ops->settle(m, cost_msat);
	m->ops = NULL;
}
