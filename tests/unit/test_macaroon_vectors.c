/* The libmacaroons and js-macaroon verification vectors, read from
 * $SHARED/test-vectors/macaroons (format: that folder's README). */
#include <dirent.h>
#include <sodium.h>

#include "encoding.h"
#include "macaroon.h"
#include "test.h"

#define MAX_LINES 64
#define MAX_LINE 4096

struct vector {
	bool authorized;
	char key[256];
	char exact[16][256];
	size_t nexact;
	char mac[8][MAX_LINE];
	size_t nmac;
};

static bool exact_checker(void *ctx, const uint8_t *cav, size_t len)
{
	const struct vector *v = ctx;
	for (size_t i = 0; i < v->nexact; i++)
		if (strlen(v->exact[i]) == len && memcmp(v->exact[i], cav, len) == 0)
			return true;
	return false;
}

static bool load_vector(const char *path, struct vector *v)
{
	FILE *f = fopen(path, "r");
	char line[MAX_LINE];
	int n = 0;
	if (!f)
		return false;
	memset(v, 0, sizeof(*v));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		n++;
		if (n == 1)
			continue; /* version line: the format is detected from bytes */
		if (n == 2)
			v->authorized = strcmp(line, "authorized") == 0;
		else if (strncmp(line, "key ", 4) == 0)
			snprintf(v->key, sizeof(v->key), "%s", line + 4);
		else if (strncmp(line, "exact ", 6) == 0 && v->nexact < 16)
			snprintf(v->exact[v->nexact++], 256, "%s", line + 6);
		else if (strncmp(line, "general ", 8) == 0)
			continue;
		else if (v->nmac < 8)
			snprintf(v->mac[v->nmac++], MAX_LINE, "%s", line);
	}
	fclose(f);
	return v->nmac > 0;
}

static uint8_t raw[8][MAX_LINE], scratch[8][MAX_LINE];

/* Decode and verify; true if the verdict matches the vector. */
static bool run_vector(const char *path)
{
	struct vector v;
	struct macaroon m[8];
	if (!load_vector(path, &v))
		return false;
	for (size_t i = 0; i < v.nmac; i++) {
		size_t n;
		if (!b64_decode_any(v.mac[i], strlen(v.mac[i]), raw[i], MAX_LINE, &n))
			return false;
		if (macaroon_decode(raw[i], n, scratch[i], MAX_LINE, &m[i], NULL)
		    != MACAROON_OK)
			return false;
	}
	enum macaroon_err err = macaroon_verify(&m[0], (const uint8_t *)v.key,
						strlen(v.key), &m[1], v.nmac - 1,
						exact_checker, &v);
	return (err == MACAROON_OK) == v.authorized;
}

static int run_dir(const char *dir, int *passed, int *failed)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int seen = 0;
	if (!d) {
		fprintf(stderr, "cannot open %s\n", dir);
		return 0;
	}
	while ((e = readdir(d))) {
		char path[1024];
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 6, ".vtest") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		seen++;
		if (run_vector(path)) {
			(*passed)++;
		} else {
			(*failed)++;
			fprintf(stderr, "vector FAILED: %s\n", path);
		}
	}
	closedir(d);
	return seen;
}

int main(void)
{
	const char *shared = getenv("SHARED");
	char dir[1024];
	int lp = 0, lf = 0, jp = 0, jf = 0;

	if (sodium_init() < 0)
		return 2;
	if (!shared)
		shared = "../shared";
	snprintf(dir, sizeof(dir), "%s/test-vectors/macaroons/libmacaroons", shared);
	int nlib = run_dir(dir, &lp, &lf);
	snprintf(dir, sizeof(dir), "%s/test-vectors/macaroons/js-macaroon", shared);
	int njs = run_dir(dir, &jp, &jf);

	/* The libmacaroons set is the one the issue counts (16). */
	printf("macaroon vectors: %d passed, %d failed\n", lp, lf);
	printf("js-macaroon third-party vectors: %d passed, %d failed\n", jp, jf);
	CHECK_EQ_INT(nlib, 16);
	CHECK(njs >= 5);
	test_passed += lp + jp;
	test_failed += lf + jf;
	return test_done("test_macaroon_vectors");
}
