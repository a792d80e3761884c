/* dir: serves regular files under a directory. The request path is
 * already percent-decoded by libmicrohttpd; we refuse dot segments and
 * backslashes, then resolve the real path and require it to stay inside
 * the real directory, which also catches symlinks pointing out. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"

static const struct {
	const char *ext, *type;
} types[] = {
	{ "html", "text/html; charset=utf-8" }, { "htm", "text/html; charset=utf-8" },
	{ "css", "text/css" }, { "js", "text/javascript" }, { "mjs", "text/javascript" },
	{ "json", "application/json" }, { "txt", "text/plain; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" }, { "csv", "text/csv" }, { "xml", "application/xml" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "svg", "image/svg+xml" }, { "webp", "image/webp" },
	{ "ico", "image/x-icon" }, { "pdf", "application/pdf" }, { "wasm", "application/wasm" },
	{ "mp3", "audio/mpeg" }, { "mp4", "video/mp4" }, { "webm", "video/webm" },
	{ "zip", "application/zip" }, { "gz", "application/gzip" }, { "tar", "application/x-tar" },
};

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return "application/octet-stream";
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot + 1, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static bool check(const struct route_spec *s, char *why, size_t whylen)
{
	if (s->target[0] != '/')
		return backend_refuse(why, whylen, "dir '%.200s' must be an absolute path", s->target);
	if (!s->prefix)
		return backend_refuse(why, whylen, "a dir: backend needs a prefix path ending in '/*'");
	return true;
}

/* A file small enough to keep, read whole (a short read keeps nothing). */
static void keep_file(const struct keep *k, int fd, size_t size, const char *type)
{
	char *body = malloc(size ? size : 1);
	size_t got = 0;
	ssize_t n;
	while (body && got < size && (n = pread(fd, body + got, size - got, (off_t)got)) > 0)
		got += (size_t)n;
	if (body && got == size)
		backend_keep(k, 200, type, body, size);
	free(body);
}

static struct http_step *serve(const struct backend_call *c)
{
	struct req *r = c->req;
	char base[PATH_MAX], want[PATH_MAX * 2], real[PATH_MAX];
	const char *rel = c->subpath;
	struct stat st;
	int fd;

	while (*rel == '/')
		rel++;
	if (!backend_subpath_plain(c->subpath))
		return http_error(r, 404, "not_found", "no such file");
	if (!realpath(c->spec->target, base))
		return http_error(r, 500, "misconfigured", "the route's directory does not exist");
	snprintf(want, sizeof(want), "%s/%s", base, rel);
	if (!realpath(want, real) || strncmp(real, base, strlen(base)) != 0
	    || (real[strlen(base)] != '/' && real[strlen(base)] != '\0'))
		return http_error(r, 404, "not_found", "no such file");
	if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
		size_t n = strlen(real);
		if (n + 12 >= sizeof(real))
			return http_error(r, 404, "not_found", "no such file");
		strcat(real, "/index.html");
	}
	/* Without blocking: a FIFO (or a device) opens at once, and is then
	 * refused for not being a regular file. */
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return http_error(r, 404, "not_found", "no such file");
	}
	if (c->keep.kept && (uint64_t)st.st_size <= c->keep.max)
		keep_file(&c->keep, fd, (size_t)st.st_size, content_type(real));
	/* Large files go out from the descriptor, never through memory. */
	struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return http_error(r, 500, "internal", "cannot serve the file");
	}
	MHD_add_response_header(resp, "Content-Type", content_type(real));
	return http_finish(r, 200, resp);
}

const struct backend backend_dir = {
	.name = "dir", .usage = "dir:PATH",
	.check = check,
	.serve = serve,
	.lockless = true,
};
