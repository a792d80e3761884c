/* The discovery documents over HTTP: free, cacheable (ETag, max-age),
 * open to every origin, answered before any route is looked at. */
#include <stdatomic.h>
#include <string.h>

#include "publish/discovery.h"
#include "http/http.h"

static struct http_step *send_doc(struct req *r, enum doc_kind k, const char *body, size_t len,
				  const char *etag)
{
	r->public_answer = true;
	if (!body)
		return http_unavailable(r, "the catalog cannot be built right now");
	const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
	struct MHD_Response *resp;
	unsigned status = 200;
	if (inm && strstr(inm, etag)) {
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
		status = 304;
	} else {
		resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	}
	if (resp) {
		MHD_add_response_header(resp, "Content-Type", discovery_content_type(k));
		MHD_add_response_header(resp, "Cache-Control", "public, max-age=60");
		MHD_add_response_header(resp, "ETag", etag);
		MHD_add_response_header(resp, "Link", "</openapi.json>; rel=\"service-desc\"");
		if (k != DOC_MANIFEST)
			MHD_add_response_header(resp, "Link",
						"</.well-known/l402.json>; rel=\"l402-manifest\"");
	}
	return http_finish(r, status, resp);
}

static void manifest_ready(void *arg, const char *json, size_t len)
{
	struct req *r = http_deref(http_arg_ref(arg));
	char etag[DISCOVERY_ETAG_LEN];
	if (!r)
		return;
	if (json)
		discovery_etag(json, len, etag);
	http_step_end(send_doc(r, DOC_MANIFEST, json, len, etag));
}

/* Holding the loop's lock: which document a path names depends on
 * options setconfig may change (l402-catalog). */
static struct http_step *serve_doc(struct req *r)
{
	enum doc_kind k = discovery_doc_for(r->path);
	if (k == DOC_NONE)
		return http_decline(r);
	r->public_answer = true;
	if (k == DOC_MANIFEST) {
		struct http_step *waiting = http_wait(r);
		discovery_manifest(manifest_ready, http_ref_arg(http_ref(r)), NULL);
		return waiting;
	}
	/* Built once per change, copied once into the answer. */
	const char *text, *etag;
	size_t len;
	if (!discovery_built(k, &text, &len, &etag))
		return http_error(r, 404, "not_found", "not configured on this node");
	return send_doc(r, k, text, len, etag);
}

/* A fingerprint of the catalog's path (never 0; 0: no catalog), read
 * without the loop's lock: every request meets this handler, and one for
 * no document must not wait for the loop. A fingerprint that matches by
 * chance only costs the lock; discovery_doc_for decides. */
static _Atomic uint64_t catalog_fp;

static uint64_t path_fp(const char *s)
{
	uint64_t h = 14695981039346656037u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	return h | 1;
}

void discovery_catalog_moved(const char *catalog)
{
	atomic_store(&catalog_fp, catalog ? path_fp(catalog) : 0);
}

/* Whether a path may name a document: the fixed ones (all under these
 * prefixes) or the catalog. */
static bool maybe_doc(const char *path)
{
	return strncmp(path, "/.well-known/", 13) == 0 || strcmp(path, "/openapi.json") == 0
	       || strcmp(path, "/llms.txt") == 0 || path_fp(path) == atomic_load(&catalog_fp);
}

struct http_step *discovery_handle(struct req *r)
{
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
		return http_decline(r);
	if (!r->path || !maybe_doc(r->path))
		return http_decline(r);
	return http_locked(serve_doc, r);
}

