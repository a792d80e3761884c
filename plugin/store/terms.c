#include "store/terms.h"

#include <stdio.h>
#include <string.h>

#include "backends/backend.h"

void terms_of(const struct route_spec *s, const struct backend *b, struct terms *t)
{
	memset(t, 0, sizeof(*t));
	t->price_msat = s->price_msat;
	t->uses = s->uses;
	t->valid = s->valid;
	t->live = s->pricer[0] != '\0';
	t->balance_msat = s->balance_msat;
	/* What the challenge asks lightningd to invoice. */
	t->invoice_msat = s->balance_msat ? s->balance_msat : s->price_msat;
	/* A balance pays each request the hold when there is one (a metered
	 * request is then settled to what it cost), else the price. */
	t->draw_msat = s->balance_msat ? (s->hold_msat ? s->hold_msat : s->price_msat) : 0;
	if (s->price_msat == 0)
		t->model = TERMS_FREE;
	else if (s->balance_msat && b && b->meters)
		t->model = TERMS_METERED;
	else if (s->balance_msat)
		t->model = TERMS_BALANCE;
	else if (t->live)
		t->model = TERMS_LIVE;
	else
		t->model = TERMS_FIXED;
}

const char *terms_model_name(enum terms_model m)
{
	switch (m) {
	case TERMS_FREE: return "free";
	case TERMS_FIXED: return "fixed";
	case TERMS_LIVE: return "live";
	case TERMS_BALANCE: return "balance";
	case TERMS_METERED: return "metered";
	}
	return "fixed";
}

void terms_sat(uint64_t msat, char *out, size_t len)
{
	char whole[32], grouped[48];
	size_t n, o = 0;
	snprintf(whole, sizeof(whole), "%llu", (unsigned long long)(msat / 1000));
	n = strlen(whole);
	for (size_t i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			grouped[o++] = ',';
		grouped[o++] = whole[i];
	}
	grouped[o] = '\0';
	if (msat % 1000)
		snprintf(out, len, "%s.%03llu", grouped, (unsigned long long)(msat % 1000));
	else
		snprintf(out, len, "%s", grouped);
}

/* "1 hour", "90 seconds". */
static void lifetime(int64_t v, char *out, size_t len)
{
	static const struct { int64_t secs; const char *unit; } units[] = {
		{ 86400, "day" }, { 3600, "hour" }, { 60, "minute" },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (v % units[i].secs == 0) {
			snprintf(out, len, "%lld %s%s", (long long)(v / units[i].secs), units[i].unit,
				 v == units[i].secs ? "" : "s");
			return;
		}
	}
	snprintf(out, len, "%lld seconds", (long long)v);
}

void terms_buys(const struct terms *t, char *out, size_t len)
{
	char life[64] = "", bal[40], draw[40];
	if (t->valid)
		lifetime(t->valid, life, sizeof(life));
	if (t->model == TERMS_FREE) {
		snprintf(out, len, "free");
		return;
	}
	if (t->balance_msat) {
		char until[80];
		if (t->valid)
			snprintf(until, sizeof(until), "for %s", life);
		else
			snprintf(until, sizeof(until), "no expiry");
		terms_sat(t->balance_msat, bal, sizeof(bal));
		terms_sat(t->draw_msat, draw, sizeof(draw));
		if (t->model == TERMS_METERED)
			snprintf(out, len, "a %s-sat balance, each request drawing what it really cost "
					   "(%s sat held from it while the request runs), %s",
				 bal, draw, until);
		else if (t->live) /* the cap is the route's price: a 402's is the live one */
			snprintf(out, len, "a %s-sat balance, each request's live price drawn from it, %s",
				 bal, until);
		else
			snprintf(out, len, "a %s-sat balance, %s sat per request drawn from it, %s",
				 bal, draw, until);
		return;
	}
	if (t->uses && t->valid)
		snprintf(out, len, "%llu request%s within %s", (unsigned long long)t->uses,
			 t->uses == 1 ? "" : "s", life);
	else if (t->uses)
		snprintf(out, len, "%llu request%s", (unsigned long long)t->uses, t->uses == 1 ? "" : "s");
	else if (t->valid)
		snprintf(out, len, "unlimited requests for %s", life);
	else
		snprintf(out, len, "unlimited requests, no expiry");
}

void terms_add_json(struct json_out *j, const struct terms *t)
{
	char buys[256];
	json_add_u64(j, "invoice_msat", t->invoice_msat);
	json_add_u64(j, "invoice_sat", (t->invoice_msat + 999) / 1000);
	terms_buys(t, buys, sizeof(buys));
	json_add_string(j, "buys", buys);
}
