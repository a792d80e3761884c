#include "http/cors.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What clients of a paywall send, when a preflight asks for nothing. */
#define DEFAULT_ALLOW_HEADERS "Authorization, Accept-Authenticate, Content-Type"
#define MAX_REQUESTED 1024

/* l402-cors-origin, copied here: answers are made on HTTP threads while
 * setconfig may change the option. */
static pthread_mutex_t origin_mu = PTHREAD_MUTEX_INITIALIZER;
static char origin[CORS_MAX_ORIGIN + 1] = "*";
static _Atomic uint64_t generation = 1;

void cors_set_origin(const char *o)
{
	pthread_mutex_lock(&origin_mu);
	if (strcmp(origin, o) != 0) {
		snprintf(origin, sizeof(origin), "%s", o);
		atomic_fetch_add(&generation, 1);
	}
	pthread_mutex_unlock(&origin_mu);
}

/* The transport's own names; cors_expose adds the application's. Set
 * once at start, before any listener. */
static char expose[512] = "WWW-Authenticate, Link, Retry-After";

void cors_expose(const char *names)
{
	snprintf(expose, sizeof(expose), "WWW-Authenticate, Link, Retry-After, %s", names);
}

uint64_t cors_generation(void)
{
	return atomic_load(&generation);
}

void cors_add(struct MHD_Response *resp, bool public_doc)
{
	char o[sizeof(origin)] = "*";
	if (!public_doc) {
		pthread_mutex_lock(&origin_mu);
		memcpy(o, origin, sizeof(o));
		pthread_mutex_unlock(&origin_mu);
	}
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", o);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers", expose);
	if (strcmp(o, "*") != 0)
		MHD_add_response_header(resp, "Vary", "Origin");
}

bool cors_is_preflight(struct MHD_Connection *c)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin")
	       && MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Method");
}

/* A comma-separated list of header names (RFC 9110 tokens), nothing else:
 * what is echoed back must not be able to smuggle anything. */
static bool header_names(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MAX_REQUESTED)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~, \t", *s))
			return false;
	return true;
}

struct MHD_Response *cors_preflight(struct MHD_Connection *c)
{
	const char *asked = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							"Access-Control-Request-Headers");
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return NULL;
	MHD_add_response_header(resp, "Access-Control-Allow-Methods",
				"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	MHD_add_response_header(resp, "Access-Control-Allow-Headers",
				asked && header_names(asked) ? asked : DEFAULT_ALLOW_HEADERS);
	MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
	MHD_add_response_header(resp, "Vary",
				"Access-Control-Request-Method, Access-Control-Request-Headers");
	return resp;
}
