/* Runs a libFuzzer target over every file of a corpus directory, so that
 * `make check` replays the seeds without clang's fuzzer runtime. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int ran = 0;
	for (int a = 1; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		struct dirent *e;
		if (!d) {
			fprintf(stderr, "cannot open %s\n", argv[a]);
			printf("replay: 0 passed, 1 failed\n");
			return 1;
		}
		while ((e = readdir(d))) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
			FILE *f = fopen(path, "rb");
			if (!f)
				continue;
			uint8_t *buf = malloc(1 << 20);
			size_t n = fread(buf, 1, 1 << 20, f);
			fclose(f);
			/* A crash aborts under the sanitizers: reaching the
			 * next line means this input passed. */
			LLVMFuzzerTestOneInput(buf, n);
			free(buf);
			ran++;
		}
		closedir(d);
	}
	printf("%s seeds: %d passed, 0 failed\n", argc > 1 ? argv[1] : "", ran);
	return ran ? 0 : 1;
}
