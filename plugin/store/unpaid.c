#include "store/unpaid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out.h"
#include "store/label.h"
#include "core/log.h"
#include "core/loop.h"
#include "lightningd/rpc.h"
#include "core/state.h"

#define TICK_MS 1000
/* delinvoice calls in flight at once: each answer sends the next, so
 * expired invoices go as fast as lightningd deletes them, without
 * flooding its socket. */
#define DELETES_IN_FLIGHT 16
#define MAX_TRACKED (1u << 20)
#define PAGE 1000
#define RPC_TIMEOUT_MS 60000
/* lightningd calls an invoice expired from expires_at; delinvoice with
 * status "expired" is sent a second later so that it agrees. */
#define DELETE_GRACE 2

/* An invoice a buyer could still pay. */
struct unpaid {
	uint8_t hash[32];
	char label[LABEL_MAX];
	uint64_t expires_at;
};

/* A min-heap by expires_at of the invoices still payable: the place
 * under l402-max-unpaid of each is taken until it is paid or expires. */
static struct unpaid *heap;
static size_t nheap, cap_heap;

/* Expired invoices waiting for their delinvoice, oldest expiry first: a
 * ring. Leftovers of an earlier run are listed a page at a time, the
 * next page only once this has room for it. */
struct doomed {
	char label[LABEL_MAX];
	uint64_t expires_at;
};
static struct doomed *ring;
static size_t ring_head, ring_len, cap_ring;

static unsigned asking;		/* places taken for invoices being asked for */
static unsigned in_flight;	/* delinvoice calls not answered yet */
static uint64_t deleted;
static uint64_t tick_timer;
static bool startup_swept;
static uint64_t next_page;	/* the next page of listinvoices to read, or 0 */

static bool earlier(size_t a, size_t b)
{
	return heap[a].expires_at < heap[b].expires_at;
}

static void swap(size_t a, size_t b)
{
	struct unpaid t = heap[a];
	heap[a] = heap[b];
	heap[b] = t;
}

static void sift_up(size_t i)
{
	while (i > 0 && earlier(i, (i - 1) / 2)) {
		swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void sift_down(size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < nheap && earlier(l, m))
			m = l;
		if (l + 1 < nheap && earlier(l + 1, m))
			m = l + 1;
		if (m == i)
			return;
		swap(i, m);
		i = m;
	}
}

static void heap_remove(size_t i)
{
	heap[i] = heap[--nheap];
	if (i < nheap) {
		sift_up(i);
		sift_down(i);
	}
}

static void doom(const char *label, uint64_t expires_at)
{
	if (ring_len == cap_ring) {
		size_t nc = cap_ring ? cap_ring * 2 : 1024;
		struct doomed *n = cap_ring >= MAX_TRACKED ? NULL : malloc(nc * sizeof(*n));
		if (!n) {
			/* Left in lightningd: the next start's listing finds it. */
			plugin_log(LOG_UNUSUAL, "too many expired invoices to delete; %s left", label);
			return;
		}
		for (size_t i = 0; i < ring_len; i++)
			n[i] = ring[(ring_head + i) % cap_ring];
		free(ring);
		ring = n;
		ring_head = 0;
		cap_ring = nc;
	}
	struct doomed *d = &ring[(ring_head + ring_len++) % cap_ring];
	snprintf(d->label, sizeof(d->label), "%s", label);
	d->expires_at = expires_at;
}

/* Invoices past their expiry give their places back at once. */
static void expire_due(uint64_t now)
{
	while (nheap && heap[0].expires_at <= now) {
		doom(heap[0].label, heap[0].expires_at);
		heap_remove(0);
	}
}

static unsigned live(void)
{
	expire_due((uint64_t)time(NULL));
	return (unsigned)nheap;
}

bool unpaid_reserve(void)
{
	if (live() + asking >= (unsigned)l402.cfg.max_unpaid)
		return false;
	asking++;
	return true;
}

void unpaid_release(void)
{
	if (asking)
		asking--;
}

unsigned unpaid_count(void)
{
	return live() + asking;
}

uint64_t unpaid_deleted_count(void)
{
	return deleted;
}

static void track(const char *label, uint64_t expires_at, const uint8_t hash[32])
{
	if (expires_at <= (uint64_t)time(NULL)) {
		doom(label, expires_at);
		return;
	}
	if (nheap == cap_heap) {
		size_t nc = cap_heap ? cap_heap * 2 : 1024;
		struct unpaid *n = cap_heap >= MAX_TRACKED ? NULL
			: realloc(heap, nc * sizeof(*n));
		if (!n) {
			/* Not tracked: the next start's listing deletes it. */
			plugin_log(LOG_UNUSUAL, "too many unpaid invoices to track; %s left", label);
			return;
		}
		heap = n;
		cap_heap = nc;
	}
	struct unpaid *u = &heap[nheap];
	memcpy(u->hash, hash, 32);
	snprintf(u->label, sizeof(u->label), "%s", label);
	u->expires_at = expires_at;
	sift_up(nheap++);
}

void unpaid_add(const char *label, uint64_t expires_at, const uint8_t hash[32])
{
	unpaid_release();
	track(label, expires_at, hash);
}

void unpaid_paid(const uint8_t hash[32])
{
	/* At most l402-max-unpaid entries (and the few made after their
	 * client left), walked once per payment. */
	for (size_t i = 0; i < nheap; i++)
		if (memcmp(heap[i].hash, hash, 32) == 0) {
			heap_remove(i);
			return;
		}
}

/* Payable still: in the heap (a paid or expired one has left it). At
 * most l402-max-unpaid entries, walked once per checkout poll. */
bool unpaid_pending(const uint8_t hash[32])
{
	for (size_t i = 0; i < nheap; i++)
		if (memcmp(heap[i].hash, hash, 32) == 0)
			return true;
	return false;
}

static void pump(void);
static void list_page(uint64_t start);

static void deleted_cb(void *arg, const struct rpc_result *r)
{
	in_flight--;
	/* Not found: already gone; unexpected status: paid at the last moment. Both are fine. */
	if (r->status == RPC_OK)
		deleted++;
	else if (!(r->status == RPC_ERROR && (r->code == INVOICE_NOT_FOUND || r->code == INVOICE_STATUS_UNEXPECTED)))
		plugin_log(LOG_DEBUG, "delinvoice failed: %s", r->message);
	pump();
}

static bool delete_invoice(const char *label)
{
	struct strbuf sb;
	struct json_out j;
	json_out_object(&j, &sb, 0);
	json_add_string(&j, "label", label);
	json_add_string(&j, "status", "expired");
	json_object_end(&j);
	bool sent = rpc_call("delinvoice", sb.data, NULL, 10000, deleted_cb, NULL);
	strbuf_free(&sb);
	if (sent)
		in_flight++;
	return sent;
}

/* Send delinvoice for the expired invoices lightningd agrees are expired,
 * a few at a time; then read the next page of leftovers if there is room. */
static void pump(void)
{
	uint64_t now = (uint64_t)time(NULL);
	expire_due(now);
	while (ring_len && in_flight < DELETES_IN_FLIGHT && rpc_connected()) {
		struct doomed *d = &ring[ring_head];
		if (d->expires_at + DELETE_GRACE > now)
			break;
		if (!delete_invoice(d->label))
			break;	/* retried on the next tick */
		ring_head = (ring_head + 1) % cap_ring;
		ring_len--;
	}
	if (next_page && ring_len < PAGE) {
		uint64_t start = next_page;
		next_page = 0;
		list_page(start);
	}
}

static void tick(void *arg)
{
	tick_timer = loop_add_timer(TICK_MS, tick, NULL);
	pump();
}

/* A page of lightningd's invoices: ours that are unpaid count against the
 * cap until they expire; those expired already are deleted. */
static void got_invoices(void *arg, const struct rpc_result *r)
{
	if (r->status != RPC_OK) {
		startup_swept = false;
		return;
	}
	const struct json_doc *d = r->doc;
	uint64_t now = (uint64_t)time(NULL), next = 0;
	int i, e, seen = 0;
	json_for_each_arr(d, json_get(d, r->result, "invoices"), i, e) {
		char label[LABEL_MAX], status[16];
		uint8_t hash[32];
		uint64_t exp = 0, created = 0;
		seen++;
		if (json_get_u64(d, json_get(d, e, "created_index"), &created) && created >= next)
			next = created + 1;
		if (!json_get_string(d, json_get(d, e, "label"), label, sizeof(label), NULL)
		    || !label_is_ours(label)
		    || !json_get_string(d, json_get(d, e, "status"), status, sizeof(status), NULL)
		    || !json_get_hex(d, json_get(d, e, "payment_hash"), hash, 32))
			continue;
		json_get_u64(d, json_get(d, e, "expires_at"), &exp);
		if (strcmp(status, "expired") == 0 || (strcmp(status, "unpaid") == 0 && exp <= now))
			doom(label, exp);
		else if (strcmp(status, "unpaid") == 0)
			track(label, exp, hash);
	}
	if (seen == PAGE && next)
		next_page = next;
	pump();
}

static void list_page(uint64_t start)
{
	char params[96];
	snprintf(params, sizeof(params), "{\"index\":\"created\",\"start\":%llu,\"limit\":%d}",
		 (unsigned long long)start, PAGE);
	if (!rpc_call("listinvoices", params, NULL, RPC_TIMEOUT_MS, got_invoices, NULL))
		startup_swept = false;
}

void unpaid_start(void)
{
	if (!tick_timer)
		tick_timer = loop_add_timer(TICK_MS, tick, NULL);
	if (!startup_swept) {
		startup_swept = true;
		next_page = 0;
		list_page(0);
	}
}

void unpaid_free(void)
{
	free(heap);
	heap = NULL;
	nheap = cap_heap = 0;
	free(ring);
	ring = NULL;
	ring_head = ring_len = cap_ring = 0;
	asking = 0;
	next_page = 0;
	if (tick_timer)
		loop_cancel_timer(tick_timer);
	tick_timer = 0;
}
