/* proxy: forwards the request to an upstream HTTP service with libcurl.
 * Each request runs on a worker thread (curl's easy interface blocks).
 * The response streams: the worker writes into a bounded ring and waits
 * while it is full; libmicrohttpd's threads read from the ring under the
 * job's mutex, and the connection is suspended while the ring is empty. So a large
 * download costs at most RING_SIZE of memory. The worker tells the loop
 * about headers, data and the end through a pipe; the loop takes it from
 * there under its lock, like all plugin state. Hop-by-hop headers and the client's
 * credentials are dropped, X-Forwarded-For is added, and upstream
 * failures before the response starts map to 502 (unreachable) and 504
 * (slow). The request body comes whole (the paywall reads it, within
 * BACKEND_MAX_BODY and HTTP_BODY_BUDGET). A metered request pays through
 * its meter (backend.h): what it held is settled once, when it ends. The part of the path under the
 * route must be plain names: the upstream never sees a path outside the
 * route's target. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/backend.h"
#include "cookie.h"
#include "core/loop.h"

#define MAX_JOBS 256
/* Of those, what one client (an IPv4 address, an IPv6 /64) may hold: one
 * slow or stalled client never takes every upstream job. */
#define MAX_JOBS_PER_CLIENT 16
/* timeout= when the route does not say */
#define DEFAULT_TIMEOUT_S 30
#define RING_SIZE (256 * 1024)
#define READ_BLOCK (32 * 1024)
/* Events a metered stream buffers ahead of what its client took. */
#define MAX_EVENTS_AHEAD 4096
/* A metered stream's socket send buffer (the kernel doubles it): what
 * its client is charged for and may not have read yet is what this and
 * the client's own receive buffer hold. */
#define STREAM_SNDBUF (16 * 1024)

struct job {
	/* Set up by the loop thread, then read-only. */
	struct req_ref ref;	/* the request, until its answer starts */
	uint8_t client[16];	/* whose it is (client_addr's group) */
	struct MHD_Connection *conn;
	char *url;
	char method[16];
	long timeout;
	struct curl_slist *headers;
	char *body;		/* the request's, taken over: the worker may outlive it */
	size_t body_len;

	/* The job's lock: guards the fields below it, shared by the worker,
	 * the loop and libmicrohttpd's reader. Taken inside the loop's lock
	 * (on the loop), never the other way round. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu. */
	char *ring;
	size_t head, len;
	bool headers_ready, done, cancelled;
	bool signalled;		/* an event for this job is in the pipe */
	bool reader_waiting;	/* the connection is suspended for data */
	bool response_alive;	/* MHD still holds the streaming response */
	long status;
	CURLcode code;
	struct strbuf resp_headers; /* "Name: value\n" lines we keep */
	int refs;		/* the worker, and the loop or the response */

	/* Under mu: what the upstream says the request cost (a header or a
	 * trailer), for a request drawing on a balance. */
	bool has_cost;
	uint64_t cost_msat;
	/* Under mu: a streamed answer (text/event-stream) drawing on a
	 * balance pays each event past the first (the hold pays that) when
	 * the connection takes it from the ring to send it, not when the
	 * worker buffers it: the reader asks, the loop grants or pauses. */
	bool metered;		/* set before the worker starts */
	bool sse;
	char last;		/* the last byte, for the blank line ending an event */
	uint64_t written, taken;	/* bytes into and out of the ring, ever */
	uint64_t paid_upto;	/* the reader may take bytes up to this offset */
	uint64_t ends[MAX_EVENTS_AHEAD];	/* offsets where buffered events end */
	size_t ends_head, ends_len;
	bool first_paid;	/* the hold paid the first event */
	uint64_t units_wanted, units_granted;
	bool paused, pause_told, stream_timeout;
	size_t pause_sent;	/* of pause_event, handed out */
	char pause_event[256];	/* payment-need-topup or session-timeout */
	/* The upstream's "data: [DONE]" is held back from the ring (it is
	 * no event to pay for) and sent after the meter's end event (the
	 * draft: a session's payment-receipt comes before the sentinel). */
	uint64_t event_start;	/* where the event being written began */
	bool done_sentinel;
	bool end_built, end_told;
	size_t end_sent;
	char end_text[512];

	/* Under mu: the answer as the connection takes it, for a request
	 * that keeps its answer (not a stream: what a stream sends depends on
	 * its balance as it flows). */
	struct strbuf kept;
	bool keep_lost;
	char kept_type[128];	/* its Content-Type */

	/* Under the loop's lock. */
	struct keep keep;
	bool started;		/* a response (or error) went to the client */
	bool counted;		/* counted in `active` (until the worker ends) */
	bool settling;		/* the loop's reference: held until settled */
	struct meter meter;	/* a metered request's hold, settled when done */
	uint64_t units_asked;	/* of units_wanted, asked of the meter */
	int64_t paused_since;
	bool retry_pending;	/* a timer will ask again */
};

/* The header an upstream states a request's cost in, in msat: read from
 * the response's headers or its trailers, and not passed to the client. */
#define COST_HEADER "X-L402-Cost-Msat"

static int pipefd[2] = { -1, -1 };

static void job_retain(struct job *j)
{
	pthread_mutex_lock(&j->mu);
	j->refs++;
	pthread_mutex_unlock(&j->mu);
}

static void release(struct job *j);

/* ---- paying a streamed answer's events, on the loop ---- */

static void ask_units(struct job *j);

/* The text a paused stream shows its client (mu held). */
static void pause_text(struct job *j, const char *event)
{
	j->meter.ops->pause_event(&j->meter, event, j->pause_event, sizeof(j->pause_event));
}

static void retry_units(void *arg)
{
	struct job *j = arg;
	j->retry_pending = false;
	ask_units(j);
	release(j); /* the timer's */
}

static void unit_answer(struct job *j, enum meter_draw r)
{
	int64_t now = (int64_t)time(NULL);
	if (r == METER_OK) {
		j->meter.held += j->meter.unit;
		j->paused_since = 0;
		pthread_mutex_lock(&j->mu);
		j->units_granted++;
		j->paused = j->pause_told = false;
		j->pause_sent = 0;
		if (j->ends_len) {
			j->paid_upto = j->ends[j->ends_head];
			j->ends_head = (j->ends_head + 1) % MAX_EVENTS_AHEAD;
			j->ends_len--;
		} else {
			j->paid_upto = j->written; /* the last event, ended by the end */
		}
		pthread_cond_broadcast(&j->cv);
		bool wake = j->reader_waiting && j->response_alive;
		j->reader_waiting = false;
		pthread_mutex_unlock(&j->mu);
		if (wake)
			MHD_resume_connection(j->conn);
		return;
	}
	/* Not covered (or not countable now): pause, and ask again in a
	 * second, as a top-up may come; past l402-session-pause, give up. */
	j->units_asked--;
	if (!j->paused_since)
		j->paused_since = now;
	bool timeout = now - j->paused_since >= j->meter.pause_s;
	pthread_mutex_lock(&j->mu);
	if (timeout && !j->stream_timeout) {
		pause_text(j, "session-timeout");
		j->stream_timeout = true;
		j->pause_told = false;
	} else if (!j->paused) {
		pause_text(j, "payment-need-topup");
		j->paused = true;
	}
	j->pause_sent = 0;
	pthread_cond_broadcast(&j->cv);
	bool wake = j->reader_waiting && j->response_alive;
	bool gone = !j->response_alive;
	j->reader_waiting = false;
	pthread_mutex_unlock(&j->mu);
	if (wake)
		MHD_resume_connection(j->conn); /* to tell its client */
	if (!timeout && !gone && !j->retry_pending) {
		j->retry_pending = true;
		job_retain(j);
		if (!loop_add_timer(1000, retry_units, j)) {
			j->retry_pending = false;
			release(j);
		}
	}
}

static void unit_spent(void *arg, enum meter_draw r)
{
	struct job *j = arg;
	unit_answer(j, r);
	release(j); /* the spend's */
}

/* Ask the meter for the units the reader waits for, one at a time. */
static void ask_units(struct job *j)
{
	pthread_mutex_lock(&j->mu);
	bool want = j->units_wanted > j->units_asked && j->response_alive && !j->stream_timeout;
	pthread_mutex_unlock(&j->mu);
	if (!want || j->retry_pending || !j->meter.ops)
		return;
	j->units_asked++;
	job_retain(j);
	enum meter_draw r = j->meter.ops->draw(&j->meter, unit_spent, j);
	if (r != METER_WAIT)
		unit_spent(j, r);
}

/* COST_HEADER's value in a header line, or false. */
static bool cost_of(const char *p, size_t len, uint64_t *msat)
{
	size_t n = strlen(COST_HEADER);
	char v[24];
	if (len <= n + 1 || strncasecmp(p, COST_HEADER, n) != 0 || p[n] != ':')
		return false;
	p += n + 1;
	len -= n + 1;
	while (len && (*p == ' ' || *p == '\t'))
		p++, len--;
	while (len && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
		len--;
	if (len == 0 || len >= sizeof(v))
		return false;
	memcpy(v, p, len);
	v[len] = '\0';
	if (strspn(v, "0123456789") != len)
		return false;
	*msat = strtoull(v, NULL, 10);
	return true;
}
static atomic_int active;
static atomic_bool aborting;

/* Every live job, so shutdown can wake workers blocked on a full ring.
 * jobs_mu guards jobs[]; a job's own mu may be taken inside it. */
static pthread_mutex_t jobs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct job *jobs[MAX_JOBS];

static void track(struct job *j, bool add)
{
	pthread_mutex_lock(&jobs_mu);
	for (int i = 0; i < MAX_JOBS; i++) {
		if (add && !jobs[i]) {
			jobs[i] = j;
			break;
		}
		if (!add && jobs[i] == j) {
			jobs[i] = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&jobs_mu);
}

/* Jobs of this client whose worker runs (counted is the loop's, and so
 * is the caller). */
static unsigned client_jobs(const uint8_t client[16])
{
	unsigned n = 0;
	pthread_mutex_lock(&jobs_mu);
	for (int i = 0; i < MAX_JOBS; i++)
		n += jobs[i] && jobs[i]->counted && memcmp(jobs[i]->client, client, 16) == 0;
	pthread_mutex_unlock(&jobs_mu);
	return n;
}

static void release(struct job *j)
{
	pthread_mutex_lock(&j->mu);
	int left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left)
		return;
	track(j, false);
	curl_slist_free_all(j->headers);
	strbuf_free(&j->resp_headers);
	strbuf_free(&j->kept);
	free(j->ring);
	free(j->body);
	free(j->url);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

/* Tell the loop to look at j again. Called with mu held. Events
 * coalesce: a job has at most one in the pipe, so the pipe (which holds
 * thousands) never fills, and the loop, reading the state under mu, sees
 * everything that happened before it takes the event. */
static void notify_locked(struct job *j)
{
	if (j->signalled)
		return;
	j->signalled = true;
	while (write(pipefd[1], &j, sizeof(j)) < 0 && errno == EINTR)
		;
}

static bool hop_by_hop(const char *name, size_t n)
{
	static const char *const drop[] = {
		"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
		"te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length",
		"host", "authorization", "macaroon", "grpc-metadata-macaroon", "token",
		"grpc-metadata-token", "expect",
	};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strlen(drop[i]) == n && strncasecmp(name, drop[i], n) == 0)
			return true;
	return false;
}

/* ---- worker thread ---- */

static void mark_ready(struct job *j, CURL *c)
{
	/* Called with mu held. */
	if (j->headers_ready)
		return;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &j->status);
	j->headers_ready = true;
}

struct wctx {
	struct job *j;
	CURL *c;
};

/* Copy n bytes into the ring, waiting for room (mu held). False when
 * the transfer must stop. */
static bool ring_write(struct job *j, const char *p, size_t total)
{
	size_t done = 0;
	while (done < total) {
		while (j->len == RING_SIZE && !j->cancelled && !atomic_load(&aborting))
			pthread_cond_wait(&j->cv, &j->mu);
		if (j->cancelled || atomic_load(&aborting))
			return false;
		size_t tail = (j->head + j->len) % RING_SIZE;
		size_t room = RING_SIZE - j->len;
		size_t chunk = total - done;
		if (chunk > room)
			chunk = room;
		if (chunk > RING_SIZE - tail)
			chunk = RING_SIZE - tail;
		memcpy(j->ring + tail, p + done, chunk);
		j->len += chunk;
		j->written += chunk;
		done += chunk;
		/* Wake the loop: a reader may be waiting for this. */
		notify_locked(j);
	}
	return true;
}

/* A metered stream's event ends at offset end (mu held): the hold pays
 * the first, the reader asks for each of the others. Waits while too
 * many are buffered ahead of the client; false when the transfer must
 * stop. */
static bool event_ends(struct job *j, uint64_t end)
{
	if (!j->first_paid) {
		j->first_paid = true;
		j->paid_upto = end;
		return true;
	}
	while (j->ends_len == MAX_EVENTS_AHEAD && !j->cancelled && !atomic_load(&aborting))
		pthread_cond_wait(&j->cv, &j->mu);
	if (j->cancelled || atomic_load(&aborting))
		return false;
	j->ends[(j->ends_head + j->ends_len) % MAX_EVENTS_AHEAD] = end;
	j->ends_len++;
	notify_locked(j); /* a reader may wait for a whole event */
	return true;
}

/* Whether the kept response headers say text/event-stream. */
static bool is_event_stream(const struct strbuf *headers)
{
	for (const char *line = headers->data; line && *line;) {
		const char *nl = strchr(line, '\n');
		if (strncasecmp(line, "Content-Type:", 13) == 0) {
			const char *v = line + 13;
			while (*v == ' ' || *v == '\t')
				v++;
			return strncasecmp(v, "text/event-stream", 17) == 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* Whether the event the worker just wrote (event_start up to written,
 * none of it taken yet: a reader takes only paid, whole events) is the
 * "data: [DONE]" sentinel; if so it is taken back out of the ring (mu
 * held). */
static bool take_back_sentinel(struct job *j)
{
	char ev[24];
	uint64_t n = j->written - j->event_start;
	if (n >= sizeof(ev) || j->event_start < j->taken)
		return false;
	for (uint64_t i = 0; i < n; i++)
		ev[i] = j->ring[(j->head + (j->event_start - j->taken) + i) % RING_SIZE];
	ev[n] = '\0';
	if (strcmp(ev, "data: [DONE]\n\n") != 0 && strcmp(ev, "data: [DONE]\r\n\r\n") != 0
	    && strcmp(ev, "data:[DONE]\n\n") != 0)
		return false;
	j->len -= (size_t)n;
	j->written -= n;
	j->done_sentinel = true;
	return true;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct wctx *w = arg;
	struct job *j = w->j;
	size_t total = size * n, pos = 0;
	pthread_mutex_lock(&j->mu);
	if (!j->headers_ready) {
		mark_ready(j, w->c);
		j->sse = j->metered && is_event_stream(&j->resp_headers);
		notify_locked(j);
	}
	while (pos < total) {
		size_t end = total;
		bool ended = false;
		if (j->sse) {
			/* Up to the blank line that ends this event. */
			for (end = pos; end < total;) {
				char c = p[end++];
				if (c == '\r')
					continue;
				if (c == '\n' && j->last == '\n') {
					j->last = 0;
					ended = true;
					break;
				}
				j->last = c;
			}
		}
		if (j->done_sentinel) {
			pos = end; /* nothing after the sentinel is an event */
			continue;
		}
		if (!ring_write(j, p + pos, end - pos))
			goto stop;
		if (ended && !take_back_sentinel(j) && !event_ends(j, j->written))
			goto stop;
		if (ended)
			j->event_start = j->written;
		pos = end;
	}
	pthread_mutex_unlock(&j->mu);
	return total;
stop:
	pthread_mutex_unlock(&j->mu);
	return 0; /* aborts the transfer */
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct wctx *w = arg;
	struct job *j = w->j;
	size_t len = size * n;
	const char *colon = memchr(p, ':', len);
	uint64_t cost;
	pthread_mutex_lock(&j->mu);
	/* A new status line (after 100 Continue or a redirect) resets. */
	if (len > 5 && strncmp(p, "HTTP/", 5) == 0)
		strbuf_reset(&j->resp_headers);
	if (colon && cost_of(p, len, &cost)) {
		/* In the headers or in a trailer: the last one counts. */
		j->has_cost = true;
		j->cost_msat = cost;
	} else if (colon && !j->headers_ready) {
		size_t nl = (size_t)(colon - p);
		if (!hop_by_hop(p, nl) && !(nl >= 14 && strncasecmp(p, "access-control", 14) == 0))
			strbuf_append(&j->resp_headers, p, len);
	}
	pthread_mutex_unlock(&j->mu);
	return len;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct job *j = arg;
	bool stop;
	pthread_mutex_lock(&j->mu);
	stop = j->cancelled || atomic_load(&aborting);
	pthread_mutex_unlock(&j->mu);
	return stop ? 1 : 0;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct wctx w = { j, curl_easy_init() };
	CURLcode code = CURLE_FAILED_INIT;
	if (w.c) {
		CURL *c = w.c;
		curl_easy_setopt(c, CURLOPT_URL, j->url);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, j->method);
		if (strcmp(j->method, "HEAD") == 0)
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		if (j->body_len || strcmp(j->method, "POST") == 0 || strcmp(j->method, "PUT") == 0
		    || strcmp(j->method, "PATCH") == 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body ? j->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
		}
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->headers);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &w);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &w);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
		/* The deadline is for the upstream to start answering; a
		 * stream may then take as long as the client reads. */
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 0L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, j->timeout);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, j);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		/* The path was checked as it is: curl must not rewrite it. */
		curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
		code = curl_easy_perform(c);
		pthread_mutex_lock(&j->mu);
		if (code == CURLE_OK)
			mark_ready(j, c);
		pthread_mutex_unlock(&j->mu);
		curl_easy_cleanup(c);
	}
	pthread_mutex_lock(&j->mu);
	j->code = code;
	j->done = true;
	notify_locked(j);
	pthread_mutex_unlock(&j->mu);
	release(j);
	return NULL;
}

/* ---- libmicrohttpd's threads: the job's mutex only ---- */

/* Called by libmicrohttpd's thread holding the response's own mutex: the
 * loop's lock is not taken here (that order would invert the one of our
 * callbacks, which hold the loop's lock and then touch responses). */
/* What the reader may take now (mu held): all that is buffered, or for a
 * metered stream the bytes of events paid for. */
static size_t takeable(const struct job *j)
{
	if (!j->sse)
		return j->len;
	uint64_t may = j->paid_upto > j->taken ? j->paid_upto - j->taken : 0;
	return may < j->len ? (size_t)may : j->len;
}

static ssize_t read_ring(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct job *j = cls;
	ssize_t n = 0;
	size_t avail;
	pthread_mutex_lock(&j->mu);
	if (j->sse && (j->paused || j->stream_timeout) && !j->pause_told) {
		/* Its balance ran out: told out of band, not from the ring. */
		size_t left = strlen(j->pause_event) - j->pause_sent;
		size_t chunk = left < max ? left : max;
		memcpy(buf, j->pause_event + j->pause_sent, chunk);
		j->pause_sent += chunk;
		j->pause_told = j->pause_sent == strlen(j->pause_event);
		n = (ssize_t)chunk;
	} else if ((avail = takeable(j))) {
		size_t chunk = avail < max ? avail : max;
		if (chunk > RING_SIZE - j->head)
			chunk = RING_SIZE - j->head;
		memcpy(buf, j->ring + j->head, chunk);
		if (j->keep.kept && !j->keep_lost && (j->sse || !strbuf_append(&j->kept, buf, chunk)))
			j->keep_lost = true;
		j->head = (j->head + chunk) % RING_SIZE;
		j->len -= chunk;
		j->taken += chunk;
		n = (ssize_t)chunk;
		pthread_cond_signal(&j->cv);
	} else if (j->sse && j->stream_timeout) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else if (!j->len && j->done && j->sse && j->code == CURLE_OK && !j->end_told) {
		/* Complete: the meter's end event, then the upstream's sentinel. */
		if (!j->end_built) {
			uint64_t units = (j->first_paid ? 1 : 0) + j->units_granted;
			j->meter.ops->end_event(&j->meter, units, j->end_text, sizeof(j->end_text));
			if (j->done_sentinel)
				strncat(j->end_text, "data: [DONE]\n\n",
					sizeof(j->end_text) - strlen(j->end_text) - 1);
			j->end_built = true;
		}
		size_t left = strlen(j->end_text) - j->end_sent;
		size_t chunk = left < max ? left : max;
		memcpy(buf, j->end_text + j->end_sent, chunk);
		j->end_sent += chunk;
		j->end_told = j->end_sent == strlen(j->end_text);
		n = chunk ? (ssize_t)chunk : MHD_CONTENT_READER_END_OF_STREAM;
	} else if (!j->len && j->done) {
		n = j->code == CURLE_OK ? MHD_CONTENT_READER_END_OF_STREAM
					: MHD_CONTENT_READER_END_WITH_ERROR;
	} else {
		/* Nothing to take: a whole event waits for its payment (asked
		 * of the loop now), or the worker has not written yet. Parked
		 * until then; suspended before mu is released, so the loop,
		 * which resumes it after seeing reader_waiting under mu, always
		 * resumes a suspended connection. */
		if (j->sse && j->len && (j->ends_len || j->done)
		    && j->units_wanted == j->units_granted) {
			j->units_wanted++;
			notify_locked(j);
		}
		j->reader_waiting = true;
		MHD_suspend_connection(j->conn);
	}
	pthread_mutex_unlock(&j->mu);
	return n;
}

static void response_freed(void *cls)
{
	struct job *j = cls;
	pthread_mutex_lock(&j->mu);
	j->response_alive = false;
	/* The client is gone or done: a blocked worker must stop, and the
	 * loop settles what the request cost once the worker has too. */
	j->cancelled = true;
	pthread_cond_broadcast(&j->cv);
	notify_locked(j);
	pthread_mutex_unlock(&j->mu);
	release(j);
}

/* ---- the loop, under its lock ---- */

static struct MHD_Response *streaming_response(struct job *j)
{
	struct MHD_Response *resp;
	if (strcmp(j->method, "HEAD") == 0)
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, READ_BLOCK, read_ring, j,
							 response_freed);
	if (!resp)
		return NULL;
	if (strcmp(j->method, "HEAD") != 0) {
		j->refs++; /* the response's */
		j->response_alive = true;
	}
	char *line = j->resp_headers.data;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *colon = strchr(line, ':');
		if (colon) {
			*colon = '\0';
			char *v = colon + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\r")] = '\0';
			MHD_add_response_header(resp, line, v);
			if (strcasecmp(line, "Content-Type") == 0)
				snprintf(j->kept_type, sizeof(j->kept_type), "%s", v);
		}
		line = nl ? nl + 1 : NULL;
	}
	return resp;
}

/* A metered stream's connection keeps little in the kernel: its client
 * is charged for an event once the connection takes it (README, "what a
 * streamed event costs"). */
static void stream_buffer(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	int size = STREAM_SNDBUF;
	if (ci)
		setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* The whole answer, when it was taken whole, to the request's keeper. */
static void keep_answer(struct job *j)
{
	if (!j->keep.kept)
		return;
	pthread_mutex_lock(&j->mu);
	bool whole = !j->keep_lost && !j->sse && j->code == CURLE_OK && j->headers_ready
		     && j->status >= 200 && j->taken == j->written && !j->len;
	pthread_mutex_unlock(&j->mu);
	/* Read without mu: the worker is done and the response freed. */
	if (whole)
		backend_keep(&j->keep, (unsigned)j->status, j->kept_type,
			     j->kept.data ? j->kept.data : "", j->kept.len);
}

static void on_event(struct job *j)
{
	pthread_mutex_lock(&j->mu);
	j->signalled = false;
	bool ready = j->headers_ready, waiting = j->reader_waiting;
	bool alive = j->response_alive;
	bool done = j->done;
	CURLcode code = j->code;
	long status = j->status;
	bool has_cost = j->has_cost;
	uint64_t cost = j->cost_msat;
	if (waiting)
		j->reader_waiting = false;
	pthread_mutex_unlock(&j->mu);

	if (!j->started && (ready || done)) {
		struct req *r = http_deref(j->ref);
		j->started = true;
		if (!r) {
			/* The request is gone: nothing to answer. */
		} else if (!ready || status < 100) {
			if (code == CURLE_OPERATION_TIMEDOUT)
				http_step_end(http_error(r, 504, "upstream_timeout",
							 "the upstream service did not answer in time"));
			else
				http_step_end(http_error(r, 502, "upstream_unreachable",
							 curl_easy_strerror(code)));
		} else {
			pthread_mutex_lock(&j->mu);
			struct MHD_Response *resp = streaming_response(j);
			bool small_buffer = j->sse;
			pthread_mutex_unlock(&j->mu);
			if (small_buffer)
				stream_buffer(j->conn);
			http_step_end(http_finish(r, (unsigned)status, resp));
		}
	} else if (waiting && alive) {
		MHD_resume_connection(j->conn);
	}
	ask_units(j);
	if (done && j->counted) {
		j->counted = false;
		atomic_fetch_sub(&active, 1);
	}
	/* Read again, as things are now (a response started above is alive;
	 * one freed meanwhile has an event of its own in the pipe). Once the
	 * worker and the client are both done and no event for the job is
	 * pending, none can come: the cost is the upstream's word, the whole
	 * hold when it said nothing (a stream's hold grows with each event
	 * its client took), nothing when it never answered. */
	pthread_mutex_lock(&j->mu);
	bool finished = j->done && !j->response_alive && !j->signalled;
	ready = j->headers_ready;
	status = j->status;
	has_cost = j->has_cost;
	cost = j->cost_msat;
	pthread_mutex_unlock(&j->mu);
	if (finished && j->settling) {
		j->settling = false;
		keep_answer(j);
		backend_settle(&j->meter, !ready || status < 100 ? 0 : has_cost ? cost : j->meter.held);
		release(j); /* the loop's reference */
	}
}

static void on_pipe(void *arg, short revents)
{
	struct job *j;
	while (read(pipefd[0], &j, sizeof(j)) == (ssize_t)sizeof(j))
		on_event(j);
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct job *j = cls;
	char line[8192];
	if (hop_by_hop(key, strlen(key)) || strcasecmp(key, "X-Forwarded-For") == 0)
		return MHD_YES;
	if (strcasecmp(key, "Cookie") == 0) {
		/* The checkout's cookie is a credential, like Authorization:
		 * the upstream gets the client's other cookies only. */
		char rest[sizeof(line) - 16];
		if (!value || !cookie_strip(value, L402_COOKIE, rest, sizeof(rest)) || !rest[0])
			return MHD_YES;
		snprintf(line, sizeof(line), "Cookie: %s", rest);
		j->headers = curl_slist_append(j->headers, line);
		return MHD_YES;
	}
	snprintf(line, sizeof(line), "%s: %s", key, value ? value : "");
	j->headers = curl_slist_append(j->headers, line);
	return MHD_YES;
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct strbuf *url = cls;
	char *k = curl_easy_escape(NULL, key, 0);
	char *v = value ? curl_easy_escape(NULL, value, 0) : NULL;
	strbuf_printf(url, "%c%s%s%s", strchr(url->data, '?') ? '&' : '?', k ? k : "",
		      v ? "=" : "", v ? v : "");
	curl_free(k);
	curl_free(v);
	return MHD_YES;
}

static struct http_step *serve(const struct backend_call *c)
{
	struct req *r = c->req;
	struct strbuf url;
	char line[512];
	struct meter m = c->meter;
	if (!backend_subpath_plain(c->subpath)) {
		backend_settle(&m, 0);
		return http_error(r, 404, "not_found", "no such path");
	}
	if (atomic_load(&active) >= MAX_JOBS) {
		backend_settle(&m, 0);
		return http_error(r, 503, "busy", "too many upstream requests in flight");
	}
	if (client_jobs(r->client.group) >= MAX_JOBS_PER_CLIENT) {
		backend_settle(&m, 0);
		return http_retry_later(r, 503, "busy", "too many upstream requests in flight "
					"from this address; retry shortly", 1);
	}
	/* Waiting first: a request that cannot wait costs nothing. */
	struct http_step *s = http_wait(r);
	if (r->response) {
		backend_settle(&m, 0);
		return s;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j || !(j->ring = malloc(RING_SIZE))) {
		free(j);
		backend_settle(&m, 0);
		return http_error(r, 503, "busy", "out of memory");
	}
	j->meter = m;
	j->metered = m.ops != NULL;
	j->keep = c->keep;
	strbuf_init(&j->kept, c->keep.max);
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->conn = r->conn;
	memcpy(j->client, r->client.group, sizeof(j->client));
	j->timeout = c->spec->timeout ? (long)c->spec->timeout : DEFAULT_TIMEOUT_S;
	j->refs = 2; /* the worker and the loop */
	snprintf(j->method, sizeof(j->method), "%s", r->method);
	strbuf_init(&j->resp_headers, 256 * 1024);
	strbuf_init(&url, 16384);
	/* The part under the route's prefix is appended to the upstream URL. */
	const char *sub = c->subpath, *target = c->spec->target;
	size_t tl = strlen(target);
	strbuf_puts(&url, target);
	if (*sub) {
		if (tl && target[tl - 1] == '/' && sub[0] == '/')
			sub++;
		else if (tl && target[tl - 1] != '/' && sub[0] != '/')
			strbuf_putc(&url, '/');
		/* Re-escape: libmicrohttpd gave us the decoded path. */
		for (const char *p = sub; *p; p++) {
			unsigned char ch = (unsigned char)*p;
			if (ch <= 0x20 || ch >= 0x7f || ch == '%' || ch == '?' || ch == '#')
				strbuf_printf(&url, "%%%02X", ch);
			else
				strbuf_putc(&url, (char)ch);
		}
	}
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_query, &url);
	if (url.failed) {
		strbuf_free(&url);
		backend_settle(&j->meter, 0);
		j->refs = 1;
		release(j);
		return http_error(r, 414, "uri_too_long", "request URI too long");
	}
	j->url = strbuf_steal(&url);
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, copy_header, j);
	const char *xff = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-For");
	if (xff)
		snprintf(line, sizeof(line), "X-Forwarded-For: %.400s, %s", xff, r->client.text);
	else
		snprintf(line, sizeof(line), "X-Forwarded-For: %s", r->client.text);
	j->headers = curl_slist_append(j->headers, line);
	j->headers = curl_slist_append(j->headers, "X-Forwarded-Proto: http");
	/* curl adds this unless told not to. */
	j->headers = curl_slist_append(j->headers, "Expect:");
	/* The job takes the body: the worker may outlive the request. */
	j->body_len = r->body.len;
	j->body = strbuf_steal(&r->body);
	track(j, true);

	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	j->ref = http_ref(r);
	atomic_fetch_add(&active, 1);
	j->counted = true;
	j->settling = true;
	if (pthread_create(&t, &attr, worker, j) != 0) {
		atomic_fetch_sub(&active, 1);
		j->counted = false;
		j->settling = false;
		j->started = true;
		backend_settle(&j->meter, 0);
		j->refs = 1;
		release(j);
		s = http_error(r, 503, "busy", "cannot start an upstream request");
	}
	pthread_attr_destroy(&attr);
	return s;
}

static bool start(void)
{
	if (pipefd[0] >= 0)
		return true;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return false;
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0)
		return false;
	return loop_add_fd(pipefd[0], POLLIN, on_pipe, NULL);
}

/* Abort transfers in flight and wait for their workers, so that every
 * suspended connection is resumed before the HTTP daemons stop. */
static void stop(void)
{
	if (pipefd[0] < 0)
		return;
	atomic_store(&aborting, true);
	pthread_mutex_lock(&jobs_mu);
	for (int i = 0; i < MAX_JOBS; i++)
		if (jobs[i]) {
			pthread_mutex_lock(&jobs[i]->mu);
			pthread_cond_broadcast(&jobs[i]->cv);
			pthread_mutex_unlock(&jobs[i]->mu);
		}
	pthread_mutex_unlock(&jobs_mu);
	for (int i = 0; i < 500 && atomic_load(&active) > 0; i++) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		poll(&p, 1, 10);
		on_pipe(NULL, POLLIN);
	}
	loop_del_fd(pipefd[0]);
	close(pipefd[0]);
	close(pipefd[1]);
	pipefd[0] = pipefd[1] = -1;
	curl_global_cleanup();
}

static bool check(const struct route_spec *s, char *why, size_t whylen)
{
	if (strncmp(s->target, "http://", 7) != 0 && strncmp(s->target, "https://", 8) != 0)
		return backend_refuse(why, whylen,
				      "proxy URL '%.200s' must start with http:// or https://",
				      s->target);
	return true;
}

const struct backend backend_proxy = {
	.name = "proxy", .usage = "proxy:URL",
	.takes_timeout = true,
	.reads_body = true,
	.meters = true,
	.check = check,
	.serve = serve,
	.start = start,
	.stop = stop,
};
