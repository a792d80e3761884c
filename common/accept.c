#include "accept.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest Accept header looked at. */
#define MAX_ACCEPT 2048

/* The q of one media range's parameters ("; q=0.5"), 1 without one. */
static double range_q(const char *params, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++) {
		if (params[i] != ';')
			continue;
		size_t j = i + 1;
		while (j < len && (params[j] == ' ' || params[j] == '\t'))
			j++;
		if (j + 2 <= len && (params[j] == 'q' || params[j] == 'Q') && params[j + 1] == '=') {
			char num[8];
			size_t k = 0;
			for (j += 2; j < len && k + 1 < sizeof(num)
				     && (isdigit((unsigned char)params[j]) || params[j] == '.'); j++)
				num[k++] = params[j];
			num[k] = '\0';
			double q = k ? strtod(num, NULL) : 0;
			return q < 0 ? 0 : q > 1 ? 1 : q;
		}
	}
	return 1;
}

static bool type_is(const char *t, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(t, want, n) == 0;
}

static bool json_type(const char *t, size_t n)
{
	return type_is(t, n, "application/json")
	       || (n > 5 && strncasecmp(t + n - 5, "+json", 5) == 0);
}

bool accept_prefers_html(const char *accept)
{
	double html_q = 0, json_q = 0;
	int html_at = -1, json_at = -1, i = 0;
	if (!accept || strlen(accept) > MAX_ACCEPT)
		return false;
	for (const char *p = accept; *p; i++) {
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *semi = NULL;
		for (const char *c = p; c < end && !semi; c++)
			if (*c == ';')
				semi = c;
		const char *tend = semi ? semi : end;
		while (tend > p && (tend[-1] == ' ' || tend[-1] == '\t'))
			tend--;
		size_t tn = (size_t)(tend - p);
		double q = semi ? range_q(semi, (size_t)(end - semi)) : 1;
		if (html_at < 0 && type_is(p, tn, "text/html")) {
			html_q = q;
			html_at = i;
		} else if (json_at < 0 && json_type(p, tn)) {
			json_q = q;
			json_at = i;
		}
		p = *end ? end + 1 : end;
	}
	if (html_at < 0 || html_q <= 0)
		return false;
	return json_at < 0 || html_q > json_q || (html_q == json_q && html_at < json_at);
}
