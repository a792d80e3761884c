/* The checkout page and its endpoint (checkout.h). */
#include "paywall/checkout.h"

#include <ctype.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "accept.h"
#include "cookie.h"
#include "core/state.h"
#include "encoding.h"
#include "json_out.h"
#include "paywall/request.h"
#include "qr_svg.h"
#include "lightningd/rpc.h"
#include "store/label.h"
#include "store/preimages.h"
#include "store/unpaid.h"
#include "store/routes.h"
#include "store/secret.h"
#include "store/terms.h"

/* Longest macaroon the endpoint reads: the cookie it makes of it must
 * stay within what browsers keep (4096 bytes a cookie). */
#define MAX_MACAROON 3800
/* Polls a client may make for each challenge it may ask for
 * (l402-challenge-rate): a page asks every 1.5 s, 40 times a minute, so
 * the default 30 a minute lets about three pages poll at once; a node
 * behind Tor, where every client is 127.0.0.1, raises both together. */
#define POLLS_PER_CHALLENGE 4
/* A token without expiry: the longest a browser keeps a cookie. */
#define COOKIE_FOREVER (400 * 24 * 3600)

/* ---- content negotiation ---- */

bool checkout_wanted(struct req *r)
{
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
		return false;
	if (MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization"))
		return false;
	return accept_prefers_html(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept"));
}

/* The cookie that carries a page's macaroon to the endpoint:
 * PENDING_COOKIE + 8 hex of the token's hash. */
#define PENDING_COOKIE "l402p_"

/* Whether the browser reached us over TLS: an https:// listener, or a
 * front proxy that does (l402-public-url https://). Holding the loop's
 * lock (l402-public-url is dynamic). */
static bool secure_origin(struct req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci && ci->tls_session)
		return true;
	return l402.cfg.public_url && strncmp(l402.cfg.public_url, "https:", 6) == 0;
}

/* ---- the page ---- */

static void html(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': strbuf_puts(sb, "&lt;"); break;
		case '>': strbuf_puts(sb, "&gt;"); break;
		case '&': strbuf_puts(sb, "&amp;"); break;
		case '"': strbuf_puts(sb, "&quot;"); break;
		case '\'': strbuf_puts(sb, "&#39;"); break;
		default: strbuf_putc(sb, *s);
		}
	}
}

/* tok in base64url without padding: it goes into a query string. */
static void base64url(const char *tok, char *out, size_t len)
{
	size_t o = 0;
	for (; *tok && *tok != '=' && o + 1 < len; tok++)
		out[o++] = *tok == '+' ? '-' : *tok == '/' ? '_' : *tok;
	out[o] = '\0';
}

/* The page makes no request to another origin: the policy says so to
 * the browser too. */
static const char PAGE_CSP[] =
	"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
	"img-src data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
	"form-action 'none'; frame-ancestors 'none'";

static const char PAGE_CSS[] =
	":root{--fg:#1d1d1f;--muted:#5f6368;--bg:#fafafa;--card:#fff;--accent:#f7931a;--line:#e5e5e5}"
	"*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,"
	"sans-serif;color:var(--fg);background:var(--bg)}main{max-width:480px;margin:0 auto;"
	"padding:20px 16px}h1{margin:0 0 4px;font-size:1.5rem}.muted{color:var(--muted);margin:0}"
	".card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px;"
	"margin:16px 0}.price{font-size:1.6rem;font-weight:700}.badge{display:inline-block;"
	"background:var(--accent);color:#fff;border-radius:4px;padding:1px 8px;font-size:.8rem;"
	"vertical-align:middle}.qr{display:block;width:100%;max-width:360px;margin:0 auto}"
	".qr svg{width:100%;height:auto;display:block}textarea{width:100%;height:7.5em;font:12px/1.4 "
	"ui-monospace,Menlo,Consolas,monospace;word-break:break-all;resize:none;border:1px solid "
	"var(--line);border-radius:8px;padding:8px}button{font:inherit;padding:8px 14px;border-radius:8px;"
	"border:1px solid var(--accent);background:#fff;color:var(--fg);cursor:pointer;margin:8px 8px 0 0}"
	"button.main{background:var(--accent);color:#fff}#status{font-weight:600}"
	"iframe{border:0;width:100%;height:4em}";

static const char PAGE_JS[] =
	"(function(){var d=document,b=d.body,inv=b.dataset.invoice,poll=b.dataset.poll,"
	"exp=+b.dataset.expires*1000,st=d.getElementById('status'),lf=d.getElementById('left');"
	"function left(){var s=Math.max(0,Math.round((exp-Date.now())/1000));"
	"lf.textContent=s?Math.floor(s/60)+':'+('0'+s%60).slice(-2):'expired';return s}"
	"var c=d.getElementById('copy');c.hidden=false;c.onclick=function(){"
	"function done(){c.textContent='Copied'}"
	"if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(inv).then(done);return}"
	"var t=d.getElementById('invoice');t.select();try{d.execCommand('copy');done()}catch(e){}};"
	"var ln=window.webln;if(ln&&typeof ln.sendPayment=='function'){var w=d.getElementById('paywebln');w.hidden=false;w.onclick=function(){"
	"ln.enable().then(function(){return ln.sendPayment(inv)})"
	".catch(function(e){st.textContent='WebLN: '+(e&&e.message||e)})}}"
	"function tick(){if(!left()){st.textContent='This invoice expired: reload the page for a new one.';return}"
	"fetch(poll,{headers:{Accept:'application/json'},credentials:'same-origin',cache:'no-store'})"
	".then(function(r){if(r.status==200){st.textContent='Paid. Opening\\u2026';b.dataset.paid='1';"
	"location.reload();return}"
	"if(r.status==202||r.status==429||r.status==503){setTimeout(tick,r.status==202?1500:5000);return}"
	"st.textContent='This page cannot learn the payment: reload it.'})"
	".catch(function(){setTimeout(tick,3000)})}"
	"setInterval(left,1000);tick();b.dataset.ready='1'})();";

struct MHD_Response *checkout_page(struct req *r, const char *bolt11, const char *tok,
				   uint64_t expires_at, const struct l402_grant *g)
{
	const struct paid *p = paid_of(r);
	const struct route_spec *s = &p->route.spec;
	struct terms t;
	char sat[48], buys[256], uri[2100], mac[4096], when[64], slot[9];
	char pending[sizeof(mac) + 160];
	uint8_t h[32];
	struct strbuf sb, poll;
	terms_of(s, p->route.backend, &t);
	terms_sat(t.invoice_msat, sat, sizeof(sat));
	terms_buys(&t, buys, sizeof(buys));
	/* Upper case: QR's alphanumeric mode, which every wallet reads. */
	size_t i = 0;
	for (const char *q = "LIGHTNING:"; *q; q++)
		uri[i++] = *q;
	for (const char *q = bolt11; *q && i + 1 < sizeof(uri); q++)
		uri[i++] = (char)toupper((unsigned char)*q);
	uri[i] = '\0';
	base64url(tok, mac, sizeof(mac));
	/* The macaroon goes to the endpoint in a cookie of its own, never in
	 * a URL (access logs keep URLs): a slot named after it, so that two
	 * pages open in one browser keep theirs. */
	crypto_hash_sha256(h, (const uint8_t *)tok, strlen(tok));
	hex_encode(h, 4, slot, sizeof(slot));
	int64_t left = (int64_t)expires_at - (int64_t)time(NULL);
	snprintf(pending, sizeof(pending),
		 "%s%s=%s; Path=%s; Max-Age=%" PRId64 "; HttpOnly; SameSite=Strict%s", PENDING_COOKIE,
		 slot, mac, CHECKOUT_PATH, left > 0 ? left : 1, secure_origin(r) ? "; Secure" : "");
	time_t e = (time_t)expires_at;
	struct tm tm;
	gmtime_r(&e, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);

	strbuf_init(&poll, 0);
	strbuf_printf(&poll, "%s?route=%s&slot=%s", CHECKOUT_PATH, p->route.tag, slot);
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			 "<meta name=\"referrer\" content=\"no-referrer\"><title>Payment required: ");
	html(&sb, s->desc[0] ? s->desc : r->path ? r->path : "");
	strbuf_printf(&sb, "</title><style>%s</style></head><body data-invoice=\"", PAGE_CSS);
	html(&sb, bolt11);
	strbuf_puts(&sb, "\" data-poll=\"");
	html(&sb, poll.data ? poll.data : "");
	strbuf_printf(&sb, "\" data-expires=\"%" PRIu64 "\"><main><h1>", expires_at);
	html(&sb, s->desc[0] ? s->desc : "Payment required");
	strbuf_puts(&sb, " <span class=\"badge\">402</span></h1><p class=\"muted\">");
	html(&sb, r->path ? r->path : "");
	strbuf_puts(&sb, "</p><div class=\"card\"><div class=\"price\" id=\"price\">");
	html(&sb, sat);
	strbuf_puts(&sb, " sat</div><p class=\"muted\" id=\"buys\">");
	html(&sb, buys);
	if (g->valid_until > 0) {
		char until[64];
		time_t vu = (time_t)g->valid_until;
		gmtime_r(&vu, &tm);
		strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
		strbuf_puts(&sb, " (until ");
		html(&sb, until);
		strbuf_puts(&sb, ")");
	}
	strbuf_puts(&sb, "</p></div><div class=\"card\"><a class=\"qr\" id=\"qr\" href=\"");
	html(&sb, "lightning:");
	html(&sb, bolt11);
	strbuf_puts(&sb, "\">");
	bool drawn = qr_svg(&sb, uri);
	strbuf_puts(&sb, "</a><p id=\"status\">Waiting for the payment\xe2\x80\xa6</p>"
			 "<p class=\"muted\">Scan with a Lightning wallet, or pay the invoice "
			 "below. This page opens once it is paid. The invoice expires in "
			 "<span id=\"left\">");
	strbuf_printf(&sb, "%" PRId64 " min", left > 0 ? (left + 59) / 60 : 0);
	strbuf_puts(&sb, "</span> (");
	html(&sb, when);
	strbuf_puts(&sb, ").</p><textarea id=\"invoice\" readonly>");
	html(&sb, bolt11);
	strbuf_puts(&sb, "</textarea><button id=\"copy\" hidden>Copy invoice</button>"
			 "<button id=\"paywebln\" class=\"main\" hidden>Pay with WebLN</button>"
			 "<noscript><iframe title=\"payment status\" src=\"");
	html(&sb, poll.data ? poll.data : "");
	strbuf_puts(&sb, "&amp;frame=1\"></iframe></noscript></div></main><script>");
	strbuf_puts(&sb, PAGE_JS);
	strbuf_puts(&sb, "</script></body></html>");
	strbuf_free(&poll);
	struct MHD_Response *resp = NULL;
	if (drawn && !sb.failed)
		resp = MHD_create_response_from_buffer(sb.len, sb.data, MHD_RESPMEM_MUST_COPY);
	strbuf_free(&sb);
	if (resp) {
		MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
		MHD_add_response_header(resp, "Content-Security-Policy", PAGE_CSP);
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
		MHD_add_response_header(resp, "Vary", "Accept");
		MHD_add_response_header(resp, "Set-Cookie", pending);
	}
	return resp;
}

/* ---- the endpoint ---- */

/* What a poll asks, read without the lock. */
struct ask {
	char tag[9], slot[9];
	char mac[MAX_MACAROON + 1];
	bool frame;
	unsigned nroute, nslot, nframe, nother, nmac;
};

/* What the locked step hands back (same thread: no wait in between). */
struct found {
	bool route_ok, paid, secure;
	char service[ROUTE_MAX_SERVICE + 1];
	char cookie_path[ROUTE_MAX_PATH];
	uint8_t preimage[32];
};

static __thread struct ask ask;
static __thread struct found found;
/* The poll's macaroon (17 KiB: one per thread, not on the stack), and
 * its payment hash once its signature verified. */
static __thread struct l402_credential cred;
static __thread uint8_t asked_hash[32];

static bool token_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_';
}

static bool lower_hex8(const char *v)
{
	if (!v || strlen(v) != 8)
		return false;
	for (size_t i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)v[i]) || isupper((unsigned char)v[i]))
			return false;
	return true;
}

static enum MHD_Result read_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct ask *a = cls;
	if (strcmp(key, "route") == 0) {
		if (a->nroute++ == 0 && lower_hex8(value))
			memcpy(a->tag, value, 9);
	} else if (strcmp(key, "slot") == 0) {
		if (a->nslot++ == 0 && lower_hex8(value))
			memcpy(a->slot, value, 9);
	} else if (strcmp(key, "frame") == 0) {
		a->nframe++;
		a->frame = value && strcmp(value, "1") == 0;
	} else {
		a->nother++;
	}
	return MHD_YES;
}

/* The page's macaroon, from its pending cookie: exactly one. */
static enum MHD_Result read_cookie(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct ask *a = cls;
	char name[sizeof(PENDING_COOKIE) + 8];
	const char *v[2];
	size_t l[2];
	if (strcasecmp(key, "Cookie") != 0 || !value)
		return MHD_YES;
	snprintf(name, sizeof(name), "%s%s", PENDING_COOKIE, a->slot);
	size_t n = cookie_values(value, name, v, l, 2);
	for (size_t i = 0; i < n; i++) {
		if (a->nmac++ || l[i] == 0 || l[i] > MAX_MACAROON)
			continue;
		for (size_t k = 0; k < l[i]; k++)
			if (!token_char(v[i][k]))
				return MHD_YES;
		memcpy(a->mac, v[i], l[i]);
		a->mac[l[i]] = '\0';
	}
	return MHD_YES;
}

static struct http_step *answer(struct req *r, unsigned status, const char *json,
				const char *page, const char *cookie)
{
	const char *body = ask.frame ? page : json;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp) {
		MHD_add_response_header(resp, "Content-Type", ask.frame ? "text/html; charset=utf-8"
									: "application/json");
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
		if (ask.frame)
			MHD_add_response_header(resp, "Content-Security-Policy",
						"default-src 'none'; style-src 'unsafe-inline'; "
						"frame-ancestors 'self'");
		if (cookie)
			MHD_add_response_header(resp, "Set-Cookie", cookie);
	}
	return http_finish(r, status, resp);
}

/* One answer for every request that does not hold a challenge's
 * macaroon for this route, whatever it names: nothing about any invoice
 * can be learnt from it. */
static struct http_step *refuse(struct req *r)
{
	return answer(r, 403, "{\"error\":\"forbidden\",\"message\":\"this is not a checkout "
			      "this request may ask about\"}",
		      "<!doctype html><p>This page cannot learn the payment: reload it.</p>", NULL);
}

static struct http_step *pending(struct req *r)
{
	return answer(r, 202, "{\"paid\":false}",
		      "<!doctype html><meta http-equiv=\"refresh\" content=\"3\">"
		      "<p style=\"font:16px system-ui,sans-serif\">Waiting for the payment\xe2\x80\xa6</p>",
		      NULL);
}

/* Whether the macaroon's services caveat names service (it verified:
 * its caveats are the node's, or narrower). */
static bool for_service(const struct macaroon *m, const char *service)
{
	const uint8_t *v;
	size_t len, sl = strlen(service);
	if (!l402_caveat_value(m, "services", &v, &len))
		return false;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && v[j] != ',')
			j++;
		size_t k = i;
		while (k < j && v[k] == ' ')
			k++;
		if (j - k > sl && memcmp(v + k, service, sl) == 0 && v[k + sl] == ':')
			return true;
		i = j + 1;
	}
	return false;
}

/* A paid invoice the ring of preimages does not hold (paid before a
 * restart, or forgotten) is asked of lightningd once; the poll after
 * its answer finds it. Invoices this run made and that are unpaid are
 * known here (unpaid.h): polling for them costs no call. At most
 * LOOKUPS_IN_FLIGHT calls at once, and one per invoice in ASK_AGAIN_S. */
#define LOOKUPS_IN_FLIGHT 4
#define ASK_AGAIN_S 10
#define ASKED_KEPT 64
#define LOOKUP_TIMEOUT_MS 10000

static unsigned lookups;
static struct {
	uint8_t hash[32];
	int64_t at;
} asked[ASKED_KEPT];
static size_t asked_next;

struct lookup {
	uint8_t hash[32];
};

static void looked_up(void *arg, const struct rpc_result *res)
{
	struct lookup *l = arg;
	const struct json_doc *d = res->doc;
	uint8_t pre[32], hash[32];
	char label[LABEL_MAX];
	struct invoice_label lab;
	lookups--;
	int inv = res->status == RPC_OK ? json_at(d, json_get(d, res->result, "invoices"), 0) : -1;
	if (inv >= 0 && json_streq(d, json_get(d, inv, "status"), "paid")
	    && json_get_hex(d, json_get(d, inv, "payment_preimage"), pre, 32)
	    && json_get_string(d, json_get(d, inv, "label"), label, sizeof(label), NULL)
	    && label_parse(label, &lab) && !lab.charge && !lab.session) {
		crypto_hash_sha256(hash, pre, 32);
		if (sodium_memcmp(hash, l->hash, 32) == 0)
			preimages_note(hash, pre);
	}
	sodium_memzero(pre, sizeof(pre));
	free(l);
}

static void ask_lightningd(const uint8_t hash[32])
{
	int64_t now = (int64_t)time(NULL);
	char hex[65];
	if (lookups >= LOOKUPS_IN_FLIGHT)
		return;
	for (size_t i = 0; i < ASKED_KEPT; i++)
		if (memcmp(asked[i].hash, hash, 32) == 0 && now - asked[i].at < ASK_AGAIN_S)
			return;
	memcpy(asked[asked_next].hash, hash, 32);
	asked[asked_next].at = now;
	asked_next = (asked_next + 1) % ASKED_KEPT;
	struct lookup *l = malloc(sizeof(*l));
	if (!l)
		return;
	memcpy(l->hash, hash, 32);
	hex_encode(hash, 32, hex, sizeof(hex));
	struct strbuf sb;
	struct json_out j;
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "payment_hash", hex);
	json_object_end(&j);
	if (rpc_call("listinvoices", sb.data, NULL, LOOKUP_TIMEOUT_MS, looked_up, l))
		lookups++;
	else
		free(l);
	strbuf_free(&sb);
}

/* Holding the loop's lock: the route the poll names, and whether the
 * invoice of the (verified) macaroon was paid. */
static struct http_step *look_up(struct req *r)
{
	uint32_t polls = l402.cfg.challenge_n > UINT32_MAX / POLLS_PER_CHALLENGE
				 ? UINT32_MAX
				 : l402.cfg.challenge_n * POLLS_PER_CHALLENGE;
	unsigned wait = paid_take_for_client(r, 'k', 0, polls, l402.cfg.challenge_per,
					     polls / 2 ? polls / 2 : 1);
	if (wait)
		return paid_too_many(r, wait, "too many checkout polls from this address");
	const struct route *rt = routes_by_tag(ask.tag);
	memset(&found, 0, sizeof(found));
	/* Another route's token (the page asked with one of its own) is
	 * refused as a forged one would be. */
	if (rt && rt->active && rt->spec.price_msat > 0 && for_service(&cred.mac, rt->spec.service)) {
		found.route_ok = true;
		snprintf(found.service, sizeof(found.service), "%s", rt->spec.service);
		snprintf(found.cookie_path, sizeof(found.cookie_path), "%s", rt->spec.path);
		/* A prefix's cookie also goes to the prefix itself ("/files"
		 * for /files/ and /files/x). */
		size_t n = strlen(found.cookie_path);
		if (rt->spec.prefix && n > 1 && found.cookie_path[n - 1] == '/')
			found.cookie_path[n - 1] = '\0';
		found.paid = preimages_find(asked_hash, found.preimage);
		if (!found.paid && !unpaid_pending(asked_hash))
			ask_lightningd(asked_hash);
	}
	found.secure = secure_origin(r);
	return http_continue(r);
}

/* A cookie path goes into a header: only what a path may hold there. */
static bool cookie_path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == ';' || *p == ',')
			return false;
	return true;
}

struct http_step *checkout_handle(struct req *r)
{
	static __thread char auth[MAX_MACAROON + 80];
	uint8_t secret[L402_SECRET_LEN];
	struct l402_verdict v;

	if (!r->path || strcmp(r->path, CHECKOUT_PATH) != 0)
		return http_decline(r);
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
		return http_error(r, 405, "method_not_allowed", "the checkout endpoint takes GET");
	memset(&ask, 0, sizeof(ask));
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, read_arg, &ask);
	if (ask.nroute != 1 || ask.nslot != 1 || ask.nframe > 1 || ask.nother || !ask.tag[0]
	    || !ask.slot[0])
		return refuse(r);
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, read_cookie, &ask);
	if (ask.nmac != 1 || !ask.mac[0])
		return refuse(r);
	/* The macaroon's signature first, with a preimage that cannot match:
	 * only a token this node minted gets further, so what follows (is
	 * it paid?) is told only to its holder. */
	snprintf(auth, sizeof(auth), "L402 %s:%064d", ask.mac, 0);
	if (l402_parse_authorization(auth, strlen(auth), &cred) != L402_OK || cred.ndischarges)
		return refuse(r);
	if (!secret_get(secret))
		return http_unavailable(r, "starting up; retry shortly");
	struct l402_verify_req vr = { "checkout", NULL, (int64_t)time(NULL) };
	enum l402_err e = l402_verify(&cred, secret, &vr, &v);
	if (e != L402_ERR_PREIMAGE_MISMATCH) {
		sodium_memzero(secret, sizeof(secret));
		return refuse(r);
	}
	memcpy(asked_hash, v.id.payment_hash, 32);
	struct http_step *s = http_locked(look_up, r);
	if (!http_continues(s)) {
		sodium_memzero(secret, sizeof(secret));
		return s;
	}
	if (!found.route_ok) {
		sodium_memzero(secret, sizeof(secret));
		return refuse(r);
	}
	if (!found.paid) {
		sodium_memzero(secret, sizeof(secret));
		return pending(r);
	}
	/* Paid: the whole credential must hold for the route (not expired,
	 * its caveats met), as the paywall will check it. */
	memcpy(cred.preimage, found.preimage, 32);
	sodium_memzero(found.preimage, sizeof(found.preimage));
	vr.service = found.service;
	e = l402_verify(&cred, secret, &vr, &v);
	sodium_memzero(secret, sizeof(secret));
	if (e != L402_OK || !cookie_path_ok(found.cookie_path)) {
		sodium_memzero(cred.preimage, sizeof(cred.preimage));
		return refuse(r);
	}
	char pre_hex[65], cookie[MAX_MACAROON + 256];
	int64_t age = COOKIE_FOREVER, now = (int64_t)time(NULL);
	if (v.grant.valid_until > 0)
		age = v.grant.valid_until > now ? v.grant.valid_until - now : 1;
	for (size_t i = 0; i < 32; i++)
		snprintf(pre_hex + 2 * i, 3, "%02x", cred.preimage[i]);
	sodium_memzero(cred.preimage, sizeof(cred.preimage));
	snprintf(cookie, sizeof(cookie),
		 L402_COOKIE "=%s:%s; Path=%s; Max-Age=%" PRId64 "; HttpOnly; SameSite=Lax%s",
		 ask.mac, pre_hex, found.cookie_path, age,
		 found.secure ? "; Secure" : "");
	sodium_memzero(pre_hex, sizeof(pre_hex));
	struct http_step *done =
		answer(r, 200, "{\"paid\":true}",
		       "<!doctype html><p style=\"font:16px system-ui,sans-serif\">Paid. "
		       "Reload the page to open it.</p>",
		       cookie);
	sodium_memzero(cookie, sizeof(cookie));
	return done;
}
