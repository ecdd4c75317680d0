/*
 * fuzz_driver.c - replays fuzz inputs through LLVMFuzzerTestOneInput without
 * libFuzzer, so a corpus runs as an ordinary test under any compiler.
 * Arguments are files or directories of files (not recursive).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run one file; 0 or -1 if it cannot be read. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL, *p;
	size_t len = 0, cap = 0, got;

	if (!f) {
		perror(path);
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			p = realloc(data, cap);
			if (!p) {
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
		}
		got = fread(data + len, 1, cap - len, f);
		len += got;
	} while (got);
	fclose(f);
	/* An exact-size copy, so that ASan sees any over-read. */
	p = malloc(len ? len : 1);
	if (p) {
		memcpy(p, data, len);
		LLVMFuzzerTestOneInput(p, len);
	}
	free(p);
	free(data);
	return p ? 0 : -1;
}

static int run_dir(const char *dir, int *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	int err = 0;

	if (!d) {
		perror(dir);
		return -1;
	}
	while (!err && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(path))
			err = -1;
		else
			err = run_file(path);
		(*count)++;
	}
	closedir(d);
	return err;
}

int main(int argc, char **argv)
{
	struct stat st;
	int count = 0, err = 0;

	for (int i = 1; !err && i < argc; i++) {
		if (stat(argv[i], &st)) {
			perror(argv[i]);
			err = -1;
		} else if (S_ISDIR(st.st_mode)) {
			err = run_dir(argv[i], &count);
		} else {
			err = run_file(argv[i]);
			count++;
		}
	}
	if (err)
		return 1;
	printf("replayed %d inputs\n", count);
	return count ? 0 : 1;
}
