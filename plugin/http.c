/* The L402 request flow:
 *   match a route; free routes serve at once;
 *   no or bad credentials: a fresh invoice from lightningd and a token
 *   committing to its payment hash, answered as 402 with both challenges;
 *   credentials: macaroon, preimage, paid state (local, no RPC), caveats,
 *   then the backend.
 * Every failure of the credentials is a 402 with a fresh challenge and the
 * reason, because clients re-pay only on 402. */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "encoding.h"
#include "json_out.h"
#include "l402.h"
#include "log.h"
#include "loop.h"
#include "paid.h"
#include "routes.h"
#include "rpc.h"
#include "limits.h"
#include "discovery.h"
#include "tokens.h"

#define INVOICE_TIMEOUT_MS 5000
#define RPC_BACKEND_TIMEOUT_MS 10000

/* libmicrohttpd runs its own threads (a pool per listener, one per core
 * by default): parsing, sending and the kernel's share of each request
 * use every core. Our callbacks take the loop's lock, so the plugin's
 * state still has one owner at a time. */
static struct MHD_Daemon *daemons[MAX_BINDS];
static size_t ndaemons;
/* Shutting down: nothing new may wait on lightningd or a backend, since
 * the daemons must not be stopped with a connection suspended. */
static bool closing;

void http_refuse_new(void)
{
	closing = true;
}

/* ---- responses ---- */

static void add_cors(struct MHD_Response *resp, bool public_doc)
{
	MHD_add_response_header(resp, "Access-Control-Allow-Origin",
				public_doc ? "*" : l402.cfg.cors_origin);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers",
				"WWW-Authenticate, Link, Retry-After");
	if (!public_doc && strcmp(l402.cfg.cors_origin, "*") != 0)
		MHD_add_response_header(resp, "Vary", "Origin");
}

void http_finish(struct req *r, unsigned status, struct MHD_Response *resp)
{
	if (!resp) {
		status = 500;
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	}
	add_cors(resp, r->public_doc);
	r->status = status;
	r->response = resp;
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
}

void http_finish_json(struct req *r, unsigned status, const char *json, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	http_finish(r, status, resp);
}

void http_error(struct req *r, unsigned status, const char *code, const char *message)
{
	struct strbuf sb;
	struct json_out j;
	strbuf_init(&sb, 0);
	json_out_init(&j, &sb);
	json_object_start(&j, NULL);
	json_add_string(&j, "error", code);
	json_add_string(&j, "message", message);
	json_object_end(&j);
	http_finish_json(r, status, sb.data, sb.len);
	strbuf_free(&sb);
}

/* An error that tells the client when to come back. */
static void retry_later(struct req *r, unsigned status, const char *code,
			const char *why, unsigned seconds)
{
	struct strbuf sb;
	struct json_out j;
	char ra[16];
	strbuf_init(&sb, 0);
	json_out_init(&j, &sb);
	json_object_start(&j, NULL);
	json_add_string(&j, "error", code);
	json_add_string(&j, "message", why);
	json_add_u64(&j, "retry_after", seconds);
	json_object_end(&j);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(sb.len, sb.data, MHD_RESPMEM_MUST_COPY);
	strbuf_free(&sb);
	if (resp) {
		snprintf(ra, sizeof(ra), "%u", seconds);
		MHD_add_response_header(resp, "Content-Type", "application/json");
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	http_finish(r, status, resp);
}

static void unavailable(struct req *r, const char *why)
{
	retry_later(r, 503, "unavailable", why, 5);
}

static void too_many(struct req *r, unsigned wait, const char *why)
{
	retry_later(r, 429, "rate_limited", why, wait);
}

void http_wait(struct req *r)
{
	if (!r->suspended && !r->response) {
		r->suspended = true;
		MHD_suspend_connection(r->conn);
	}
}

const char *req_subpath(const struct req *r)
{
	size_t n = strlen(r->spec.path);
	if (!r->spec.prefix)
		return "";
	if (strlen(r->path) < n)
		return "";
	return r->path + n;
}

/* ---- the challenge ---- */

static void on_invoice(void *arg, const struct rpc_result *res)
{
	struct req *r = arg;
	char bolt11[2048], tok[4096];
	struct l402_identifier id;
	uint64_t expires_at = 0;
	uint8_t secret[L402_SECRET_LEN];

	if (res->status != RPC_OK) {
		plugin_log(LOG_UNUSUAL, "invoice for a challenge failed: %s", res->message);
		unavailable(r, "lightningd is unavailable; retry shortly");
		return;
	}
	const struct json_doc *d = res->doc;
	memcpy(id.token_id, r->backend, L402_TOKEN_ID_LEN);
	free(r->backend);
	r->backend = NULL;
	id.version = 0;
	if (!json_get_hex(d, json_get(d, res->result, "payment_hash"), id.payment_hash, 32)
	    || !json_get_string(d, json_get(d, res->result, "bolt11"), bolt11, sizeof(bolt11), NULL)
	    || !secret_get(secret)) {
		unavailable(r, "lightningd gave an unusable invoice");
		return;
	}
	json_get_u64(d, json_get(d, res->result, "expires_at"), &expires_at);

	struct l402_mint_params mp = { r->spec.service, 0, NULL, 0, r->spec.uses, NULL, 0 };
	int64_t valid_until = 0;
	{
		/* The label made in challenge() carries the expiry we promised. */
		char tag[9];
		uint64_t uses;
		uint8_t tid[32];
		char label[256];
		if (json_get_string(d, json_get(d, res->result, "label"), label, sizeof(label), NULL))
			label_parse(label, tag, &valid_until, &uses, tid);
	}
	if (r->spec.valid > 0)
		mp.valid_until = valid_until ? valid_until : (int64_t)time(NULL) + r->spec.valid;
	bool ok = l402_mint(secret, &id, &mp, tok, sizeof(tok));
	sodium_memzero(secret, sizeof(secret));
	if (!ok) {
		http_error(r, 500, "mint_failed", "could not mint a token");
		return;
	}

	struct strbuf hdr, body;
	struct json_out j;
	char sat[32], hash[65];
	strbuf_init(&hdr, 0);
	strbuf_init(&body, 0);
	format_sat(sat, sizeof(sat), r->spec.price_msat);
	hex_encode(id.payment_hash, 32, hash, sizeof(hash));
	json_out_init(&j, &body);
	json_object_start(&j, NULL);
	json_add_string(&j, "error", "payment_required");
	json_add_string(&j, "reason", r->reason);
	if (r->detail[0])
		json_add_string(&j, "detail", r->detail);
	json_add_u64(&j, "price_msat", r->spec.price_msat);
	json_add_raw(&j, "price_sat", sat, strlen(sat));
	json_add_string(&j, "invoice", bolt11);
	json_add_string(&j, "macaroon", tok);
	json_add_string(&j, "token", tok);
	json_add_string(&j, "payment_hash", hash);
	json_add_u64(&j, "expires_at", expires_at);
	if (r->spec.valid > 0) {
		json_add_s64(&j, "valid_seconds", r->spec.valid);
		json_add_s64(&j, "valid_until", mp.valid_until);
	}
	if (r->spec.uses > 0)
		json_add_u64(&j, "uses", r->spec.uses);
	json_add_string(&j, "hint", "Pay the invoice, then repeat the request with the header "
				    "'Authorization: L402 <macaroon>:<preimage hex>'");
	json_object_end(&j);

	struct MHD_Response *resp =
		MHD_create_response_from_buffer(body.len, body.data, MHD_RESPMEM_MUST_COPY);
	if (resp) {
		l402_challenge(&hdr, tok, bolt11);
		MHD_add_response_header(resp, "WWW-Authenticate", hdr.data);
		strbuf_reset(&hdr);
		lsat_challenge(&hdr, tok, bolt11);
		MHD_add_response_header(resp, "WWW-Authenticate", hdr.data);
		MHD_add_response_header(resp, "Link",
					"</.well-known/l402.json>; rel=\"l402-manifest\"");
		MHD_add_response_header(resp, "Content-Type", "application/json");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	}
	strbuf_free(&hdr);
	strbuf_free(&body);
	routes_count_challenge(r->route_id);
	limits_unpaid_add(r->detail_label, expires_at, id.payment_hash);
	http_finish(r, 402, resp);
}

static void challenge(struct req *r, const char *reason, const char *detail)
{
	uint8_t *token_id;
	char label[128], hex[65];
	struct strbuf sb;
	struct json_out j;

	unsigned wait;
	r->reason = reason;
	snprintf(r->detail, sizeof(r->detail), "%s", detail ? detail : "");
	if (!secret_ready() || !rpc_connected()) {
		unavailable(r, "lightningd is unavailable; retry shortly");
		return;
	}
	/* Strangers must not make the node create invoices without bound. */
	if ((wait = limits_take('c', 0, r->client_ip, l402.cfg.challenge_n,
				l402.cfg.challenge_per, l402.cfg.challenge_n))) {
		too_many(r, wait, "too many new challenges from this address");
		return;
	}
	if (!limits_unpaid_room()) {
		unavailable(r, "too many unpaid invoices outstanding; retry shortly");
		return;
	}
	token_id = malloc(L402_TOKEN_ID_LEN);
	if (!token_id) {
		unavailable(r, "out of memory");
		return;
	}
	randombytes_buf(token_id, L402_TOKEN_ID_LEN);
	(void)hex;
	label_make(label, sizeof(label), r->route_tag,
		   r->spec.valid > 0 ? (int64_t)time(NULL) + r->spec.valid : 0, r->spec.uses,
		   token_id);
	snprintf(r->detail_label, sizeof(r->detail_label), "%s", label);
	r->backend = token_id;

	strbuf_init(&sb, 0);
	json_out_init(&j, &sb);
	json_object_start(&j, NULL);
	json_add_u64(&j, "amount_msat", r->spec.price_msat);
	json_add_string(&j, "label", label);
	{
		/* BOLT11 descriptions hold at most 639 bytes: cut on a
		 * character boundary. */
		char desc[1200];
		if (r->spec.desc[0])
			snprintf(desc, sizeof(desc), "%s", r->spec.desc);
		else
			snprintf(desc, sizeof(desc), "L402: %s %s%s", r->spec.method, r->spec.path,
				 r->spec.prefix ? "*" : "");
		size_t n = strlen(desc);
		if (n > 600) {
			n = 600;
			while (n > 0 && ((unsigned char)desc[n] & 0xC0) == 0x80)
				n--;
			desc[n] = '\0';
		}
		json_add_string(&j, "description", desc);
	}
	json_add_s64(&j, "expiry", l402.cfg.invoice_expiry);
	json_object_end(&j);
	http_wait(r);
	rpc_call("invoice", sb.data, NULL, INVOICE_TIMEOUT_MS, on_invoice, r);
	strbuf_free(&sb);
}

/* ---- backends that live here: text and rpc ---- */

static void serve_text(struct req *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(r->spec.target), r->spec.target, MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	http_finish(r, 200, resp);
}

static void on_rpc_backend(void *arg, const struct rpc_result *res)
{
	struct req *r = arg;
	size_t len;
	if (res->status == RPC_OK) {
		const char *raw = json_raw(res->doc, res->result, &len);
		/* json_raw strips quotes from strings: results are objects. */
		http_finish_json(r, 200, raw, len);
	} else if (res->status == RPC_ERROR) {
		http_error(r, 502, "upstream_error", res->message);
	} else {
		unavailable(r, res->message);
	}
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct json_out *j = cls;
	json_add_string(j, key, value ? value : "");
	return MHD_YES;
}

static void serve_rpc(struct req *r)
{
	struct strbuf sb;
	struct json_out j;
	if (!rpc_connected()) {
		unavailable(r, "lightningd is unavailable; retry shortly");
		return;
	}
	strbuf_init(&sb, 64 * 1024);
	json_out_init(&j, &sb);
	json_object_start(&j, NULL);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &j);
	json_object_end(&j);
	if (!json_out_ok(&j)) {
		strbuf_free(&sb);
		http_error(r, 400, "bad_request", "query too large");
		return;
	}
	http_wait(r);
	rpc_call(r->spec.target, sb.data, NULL, RPC_BACKEND_TIMEOUT_MS, on_rpc_backend, r);
	strbuf_free(&sb);
}

static void serve(struct req *r)
{
	routes_count_request(r->route_id);
	switch (r->spec.backend) {
	case BACKEND_TEXT:
		serve_text(r);
		break;
	case BACKEND_RPC:
		serve_rpc(r);
		break;
	case BACKEND_DIR:
		backend_dir_serve(r);
		break;
	case BACKEND_PROXY:
		backend_proxy_serve(r);
		break;
	}
}

/* ---- credentials ---- */

struct auth_scan {
	struct l402_credential *cred;
	enum l402_err best;
	bool found;
};

/* Several Authorization headers may come (aperture's client sends LSAT
 * and L402): the first that parses wins; otherwise keep the most telling
 * error. */
static enum MHD_Result scan_auth(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct auth_scan *s = cls;
	if (s->found || strcasecmp(key, "Authorization") != 0 || !value)
		return MHD_YES;
	enum l402_err e = l402_parse_authorization(value, strlen(value), s->cred);
	if (e == L402_OK)
		s->found = true;
	else if (s->best == L402_ERR_NO_CREDENTIALS || s->best == L402_ERR_BAD_SCHEME)
		s->best = e;
	return MHD_YES;
}

static enum l402_err read_credentials(struct req *r, struct l402_credential *cred)
{
	static const char *const alt[] = { "Grpc-Metadata-Token", "Token",
					   "Grpc-Metadata-Macaroon", "Macaroon" };
	struct auth_scan s = { cred, L402_ERR_NO_CREDENTIALS, false };
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_auth, &s);
	if (s.found)
		return L402_OK;
	if (s.best != L402_ERR_NO_CREDENTIALS && s.best != L402_ERR_BAD_SCHEME)
		return s.best;
	for (size_t i = 0; i < sizeof(alt) / sizeof(alt[0]); i++) {
		const char *v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, alt[i]);
		if (v)
			return l402_parse_macaroon_header(v, strlen(v), cred);
	}
	return s.best;
}

/* A request without valid payment: free allowance, rate limit, or a
 * fresh challenge. */
static void unpaid_request(struct req *r, const char *reason, const char *detail)
{
	unsigned wait;
	if (r->spec.free_n && strcmp(reason, "no_credentials") == 0
	    && limits_take('f', r->route_id, r->client_ip, r->spec.free_n, r->spec.free_per,
			   r->spec.free_n) == 0) {
		serve(r);
		return;
	}
	if (r->spec.rate_n && (wait = limits_take('i', r->route_id, r->client_ip, r->spec.rate_n,
						  r->spec.rate_per, r->spec.burst))) {
		too_many(r, wait, "rate limit of this route reached for this address");
		return;
	}
	challenge(r, reason, detail);
}

static void on_use(void *arg, enum use_result res)
{
	struct req *r = arg;
	if (res == USE_OK)
		serve(r);
	else if (res == USE_EXHAUSTED)
		unpaid_request(r, "used_up", "this token has no uses left");
	else
		unavailable(r, "cannot count this use now; retry shortly");
}

/* Verdicts of credentials that fully verified, keyed by the SHA-256 of
 * the service and the Authorization value: a byte-identical credential
 * need not be decoded and HMAC'd again. Only the cryptographic part is
 * cached; expiry, revocation, payment and uses are checked every time,
 * and a new secret generation makes every entry stale. Fixed size. */
#define VCACHE_SLOTS 8192
struct vcache_entry {
	uint8_t key[32];
	struct l402_identifier id;
	uint64_t uses;
	int64_t valid_until;
	uint64_t generation;
	bool used;
};
static struct vcache_entry vcache[VCACHE_SLOTS];

/* OpenSSL's SHA-256, fetched in http_start(): it uses the CPU's SHA
 * extensions, several times faster than libsodium's portable code on a
 * header of half a kilobyte, and this runs on every paid request. */
static EVP_MD *sha256;
static EVP_MD_CTX *sha256_ctx;

/* False when OpenSSL cannot hash: the credential is then verified in full. */
static bool vcache_key(const struct req *r, const char *auth, uint8_t key[32])
{
	return sha256 && sha256_ctx && EVP_DigestInit_ex2(sha256_ctx, sha256, NULL)
	       && EVP_DigestUpdate(sha256_ctx, r->spec.service, strlen(r->spec.service) + 1)
	       && EVP_DigestUpdate(sha256_ctx, auth, strlen(auth))
	       && EVP_DigestFinal_ex(sha256_ctx, key, NULL);
}

static struct vcache_entry *vcache_slot(const uint8_t key[32])
{
	uint32_t h;
	memcpy(&h, key, sizeof(h));
	return &vcache[h % VCACHE_SLOTS];
}

static void handle_paid_route(struct req *r)
{
	/* One buffer serves every request: we hold the loop's lock and the
	 * credentials are done with before anything waits. */
	static struct l402_credential credbuf;
	struct l402_credential *cred = &credbuf;
	struct l402_verdict v;
	uint8_t secret[L402_SECRET_LEN], key[32];
	enum l402_err e;
	const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
	struct vcache_entry *ce = NULL;

	if (auth && strlen(auth) <= L402_MAX_AUTH_LEN && vcache_key(r, auth, key)) {
		ce = vcache_slot(key);
		if (ce->used && ce->generation == secret_generation() && secret_ready()
		    && CRYPTO_memcmp(ce->key, key, 32) == 0
		    && (!ce->valid_until || (int64_t)time(NULL) < ce->valid_until)) {
			memset(&v, 0, sizeof(v));
			v.id = ce->id;
			v.uses = ce->uses;
			v.valid_until = ce->valid_until;
			goto verified;
		}
	}
	e = read_credentials(r, cred);
	if (e != L402_OK) {
		unpaid_request(r, l402_err_code(e),
			       e == L402_ERR_NO_CREDENTIALS ? NULL : l402_strerror(e));
		return;
	}
	if (!secret_get(secret)) {
		unavailable(r, "starting up; retry shortly");
		return;
	}
	struct l402_verify_req vr = { r->spec.service, NULL, (int64_t)time(NULL) };
	e = l402_verify(cred, secret, &vr, &v);
	sodium_memzero(secret, sizeof(secret));
	if (e != L402_OK) {
		char detail[256];
		snprintf(detail, sizeof(detail), "%s%s%s", l402_strerror(e), v.detail[0] ? ": " : "",
			 v.detail);
		unpaid_request(r, l402_err_code(e), detail);
		return;
	}
	if (ce && paid_lookup(v.id.payment_hash, NULL)) {
		memcpy(ce->key, key, 32);
		ce->id = v.id;
		ce->uses = v.uses;
		ce->valid_until = v.valid_until;
		ce->generation = secret_generation();
		ce->used = true;
	}
verified:
	if (!paid_loaded() || !tokens_synced()) {
		/* Not "unpaid" yet: we have not finished loading. */
		unavailable(r, "starting up; retry shortly");
		return;
	}
	if (!paid_lookup(v.id.payment_hash, NULL)) {
		unpaid_request(r, "unpaid", "the invoice of this token is not paid");
		return;
	}
	if (token_revoked(v.id.token_id)) {
		unpaid_request(r, "revoked", "this token was revoked by the node");
		return;
	}
	if (r->spec.rate_n) {
		char hex[65];
		unsigned wait;
		hex_encode(v.id.token_id, 32, hex, sizeof(hex));
		if ((wait = limits_take('t', r->route_id, hex, r->spec.rate_n, r->spec.rate_per,
					r->spec.burst))) {
			too_many(r, wait, "rate limit of this route reached for this token");
			return;
		}
	}
	if (v.uses > 0) {
		switch (token_use(v.id.token_id, v.uses, on_use, r)) {
		case USE_OK:
			break;
		case USE_EXHAUSTED:
			unpaid_request(r, "used_up", "this token has no uses left");
			return;
		case USE_WAIT:
			http_wait(r);
			return;
		case USE_FAIL:
			unavailable(r, "cannot count this use now; retry shortly");
			return;
		}
	}
	serve(r);
}

/* ---- discovery documents: free, cacheable, open to every origin ---- */

static void send_doc(struct req *r, enum doc_kind k, const char *body, size_t len)
{
	uint8_t h[32];
	char etag[40];
	r->public_doc = true;
	if (!body) {
		unavailable(r, "the catalog cannot be built right now");
		return;
	}
	crypto_hash_sha256(h, (const uint8_t *)body, len);
	etag[0] = '"';
	hex_encode(h, 12, etag + 1, sizeof(etag) - 2);
	strcat(etag, "\"");
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
	http_finish(r, status, resp);
}

static void manifest_ready(void *arg, const char *json, size_t len)
{
	send_doc(arg, DOC_MANIFEST, json, len);
}

static bool serve_discovery(struct req *r)
{
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
		return false;
	enum doc_kind k = discovery_doc_for(r->path);
	if (k == DOC_NONE)
		return false;
	if (k == DOC_MANIFEST) {
		r->public_doc = true;
		http_wait(r);
		discovery_manifest(manifest_ready, r, NULL);
		return true;
	}
	struct strbuf sb;
	strbuf_init(&sb, 0);
	if (!discovery_build(k, &sb)) {
		strbuf_free(&sb);
		r->public_doc = true;
		http_error(r, 404, "not_found", "not configured on this node");
		return true;
	}
	send_doc(r, k, sb.data ? sb.data : "", sb.len);
	strbuf_free(&sb);
	return true;
}

static void preflight(struct req *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (resp) {
		MHD_add_response_header(resp, "Access-Control-Allow-Methods",
					"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
					"Authorization, Accept-Authenticate, Content-Type");
		MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
	}
	http_finish(r, 204, resp);
}

static void handle(struct req *r)
{
	bool known;
	if (closing) {
		unavailable(r, "shutting down");
		return;
	}
	if (strcmp(r->method, "OPTIONS") == 0) {
		preflight(r);
		return;
	}
	if (r->body_too_large) {
		http_error(r, 413, "too_large", "request body too large");
		return;
	}
	if (serve_discovery(r))
		return;
	struct route *rt = routes_match(r->method, r->path, &known);
	if (!rt && !routes_synced()) {
		unavailable(r, "starting up; retry shortly");
		return;
	}
	if (!rt) {
		if (known)
			http_error(r, 405, "method_not_allowed", "no route for this method");
		else
			http_error(r, 404, "not_found", "no route for this path");
		return;
	}
	r->spec = rt->spec;
	r->route_id = rt->id;
	memcpy(r->route_tag, rt->tag, sizeof(r->route_tag));
	r->has_route = true;
	if (l402.cfg.log_requests)
		plugin_log(LOG_DEBUG, "%s %s from %s", r->method, r->path, r->client_ip);
	if (r->spec.price_msat == 0) {
		unsigned wait;
		if (r->spec.rate_n && (wait = limits_take('i', r->route_id, r->client_ip,
							  r->spec.rate_n, r->spec.rate_per,
							  r->spec.burst))) {
			too_many(r, wait, "rate limit of this route reached for this address");
			return;
		}
		serve(r);
	} else {
		handle_paid_route(r);
	}
}

static void client_ip(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET
	    && inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len))
		return;
	if (sa && sa->sa_family == AF_INET6
	    && inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len))
		return;
	snprintf(out, len, "unknown");
}

/* Behind a reverse proxy we run, the client is the last address it
 * appended to X-Forwarded-For. */
static void forwarded_ip(struct MHD_Connection *c, char *out, size_t len)
{
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	if (!xff)
		return;
	const char *last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	while (*last == ' ' || *last == '\t')
		last++;
	size_t n = strcspn(last, " \t");
	if (n == 0 || n >= len || n > 45)
		return;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF.:", last[i]))
			return;
	memcpy(out, last, n);
	out[n] = '\0';
}

static enum MHD_Result queue(struct req *r)
{
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return ret;
}

/* libmicrohttpd calls this from its threads. A request belongs to its
 * connection's thread except while it is suspended, when only the loop
 * (holding the lock) may finish it, and the resume hands it back: so the
 * loop's lock is needed only to handle the request, where plugin state is
 * read and changed. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **ctx)
{
	struct req *r = *ctx;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->conn = c;
		/* No printf here: this runs for every request. */
		size_t ml = strnlen(method, sizeof(r->method) - 1);
		memcpy(r->method, method, ml);
		r->path = strdup(url);
		strbuf_init(&r->body, HTTP_MAX_BODY);
		client_ip(c, r->client_ip, sizeof(r->client_ip));
		if (l402.cfg.trust_proxy)
			forwarded_ip(c, r->client_ip, sizeof(r->client_ip));
		*ctx = r;
		return MHD_YES;
	}
	if (r->response)
		return queue(r);
	if (*upload_size) {
		if (!strbuf_append(&r->body, upload, *upload_size))
			r->body_too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->started)
		return MHD_YES;
	r->started = true;
	loop_lock();
	if (r->path)
		handle(r);
	else
		http_error(r, 500, "internal", "out of memory");
	/* Answered now, or suspended: then the loop answers it later, and
	 * r is not ours to look at once the lock is released. */
	bool answered = r->response != NULL;
	loop_unlock();
	return answered ? queue(r) : MHD_YES;
}

/* Not under the loop's lock: a finished request is its thread's alone. */
static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *ctx;
	if (!r)
		return;
	if (r->response)
		MHD_destroy_response(r->response);
	free(r->backend);
	free(r->path);
	strbuf_free(&r->body);
	free(r);
	*ctx = NULL;
}

bool http_start(struct listener *l, size_t n, unsigned threads, char *why, size_t whylen)
{
	if (!backend_proxy_init()) {
		snprintf(why, whylen, "cannot start the proxy backend");
		return false;
	}
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha256_ctx = EVP_MD_CTX_new();
	for (size_t i = 0; i < n; i++) {
		struct MHD_Daemon *d = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
				| MHD_USE_ERROR_LOG,
			0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, l[i].fd,
			MHD_OPTION_THREAD_POOL_SIZE, threads,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4000,
			/* libmicrohttpd zeroes this pool between requests: keep it small
			 * (16 KiB still holds about 14 KiB of request headers). */
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
			MHD_OPTION_END);
		if (!d) {
			snprintf(why, whylen, "cannot start the HTTP server on %s", l[i].addr);
			return false;
		}
		l[i].fd = -1; /* MHD owns it now */
		daemons[ndaemons++] = d;
	}
	return true;
}

void http_stop(void)
{
	backend_proxy_shutdown();
	/* Stopping joins libmicrohttpd's threads, which may be waiting for
	 * the lock in a callback; the loop does nothing meanwhile. */
	loop_unlock();
	for (size_t i = 0; i < ndaemons; i++)
		MHD_stop_daemon(daemons[i]);
	loop_lock();
	ndaemons = 0;
	closing = false;
	EVP_MD_CTX_free(sha256_ctx);
	EVP_MD_free(sha256);
	sha256_ctx = NULL;
	sha256 = NULL;
}
