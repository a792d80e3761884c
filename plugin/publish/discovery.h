/* Discovery: what this node sells, published in every form readers use
 * today, all built from the live route table (a price change shows
 * everywhere at once), none ever behind a paywall:
 *   /.well-known/l402.json       Lightning Labs' discovery proposal, signed
 *                                by the node key (signmessage)
 *   /.well-known/l402-services   402index's services[] and ngx_l402's routes[]
 *   /openapi.json                OpenAPI 3.1 with the x-l402-* extensions
 *   /llms.txt                    the same for agents, in plain text
 *   l402-catalog (default /)     an HTML page for people
 *   /.well-known/402index-verify.txt   402index's domain proof */
#ifndef L402_DISCOVERY_H
#define L402_DISCOVERY_H

#include <stdbool.h>

#include "http/http.h"
#include "strbuf.h"

enum doc_kind { DOC_NONE, DOC_MANIFEST, DOC_SERVICES, DOC_OPENAPI, DOC_LLMS, DOC_CATALOG,
		DOC_INDEX_VERIFY };

/* Which document a GET path asks for. */
enum doc_kind discovery_doc_for(const char *path);
const char *discovery_content_type(enum doc_kind k);

/* Build a document (the manifest without its signature). false: no such
 * document right now (e.g. no 402index token). */
bool discovery_build(enum doc_kind k, struct strbuf *out);
/* The same without a copy, with its ETag, both built once per change of
 * what the documents show: valid while the loop's lock is held. */
#define DISCOVERY_ETAG_LEN 28
bool discovery_built(enum doc_kind k, const char **text, size_t *len, const char **etag);
/* A body's ETag: a quoted prefix of its SHA-256. */
void discovery_etag(const char *body, size_t len, char etag[DISCOVERY_ETAG_LEN]);

/* The signed manifest: calls back with the JSON (or NULL if it cannot be
 * had), from a cache while nothing changed. */
void discovery_manifest(void (*done)(void *arg, const char *json, size_t len), void *arg,
			const char *parent_id);

/* Per listed route, what directories ask when you register an endpoint. */
void discovery_listing(struct strbuf *out);

/* The handler plugin.c lists before the paywall: the documents, free and
 * cacheable (discovery_serve.c); other requests are declined. */
HTTP_MUST_USE struct http_step *discovery_handle(struct req *r);
/* The catalog's path (NULL: off) changed: told so that discovery_handle
 * passes every other request on without the loop's lock. */
void discovery_catalog_moved(const char *catalog);

/* Learn the node id and alias (getinfo), after each RPC connection. */
void discovery_sync(void);
/* Something published changed: drop the caches. */
void discovery_changed(void);
void discovery_free(void);

#endif
