/* gitsave.c - the in-process libgit2 reference for tools/bench: one commit
 * per saved document, loose objects, into a scratch repository whose
 * collection was bulk-loaded (with git fast-import) beforehand.
 *
 *   gitsave GITDIR COLLECTION N LAYOUT SAVES MAX_SECONDS
 *
 * LAYOUT "flat": documents at COLLECTION/b<k>.json (one tree object that is
 * rewritten on every commit); "fanout": COLLECTION/<2 hex>/b<k>.json where
 * the two hex digits are the first byte of the SHA-1 of "b<k>" (a 256-way
 * fanout as git-notes does). Each save upserts document b<k> (k cycling
 * through the collection) with new bytes: blob, git_tree_create_updated
 * from the head's tree, git_commit_create moving refs/heads/main. Stops
 * after SAVES saves or MAX_SECONDS, whichever is first (at least 5 saves),
 * and prints "saves SECONDS" on stdout.
 */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check(int err, const char *what)
{
	if (err < 0) {
		const git_error *e = git_error_last();
		fprintf(stderr, "gitsave: %s: %s\n", what,
			e ? e->message : "?");
		exit(1);
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr,
			"usage: gitsave GITDIR COLLECTION N flat|fanout "
			"SAVES MAX_SECONDS\n");
		return 2;
	}
	const char *coll = argv[2];
	long n = atol(argv[3]);
	int fanout = !strcmp(argv[4], "fanout");
	long saves = atol(argv[5]);
	double maxsec = atof(argv[6]);
	git_repository *repo;
	git_signature *sig;

	git_libgit2_init();
	check(git_repository_open(&repo, argv[1]), "open");
	check(git_signature_now(&sig, "bench", "bench@example.invalid"), "sig");

	double t0 = now();
	long i;
	for (i = 0; i < saves; i++) {
		if (i >= 5 && now() - t0 > maxsec)
			break;
		long k = (i * 7919) % n;
		char id[64], path[256], body[256], msg[300];
		snprintf(id, sizeof id, "b%ld", k);
		if (fanout) {
			git_oid h;
			check(git_odb_hash(&h, id, strlen(id), GIT_OBJECT_BLOB),
			      "hash");
			/* The bench's generator uses the same rule (sha1 of the
			 * id as a blob) so both agree on the shard. */
			snprintf(path, sizeof path, "%s/%02x/%s.json", coll,
				 h.id[0], id);
		} else {
			snprintf(path, sizeof path, "%s/%s.json", coll, id);
		}
		int len = snprintf(body, sizeof body,
				   "{\"id\": %ld, \"age\": %ld, \"save\": %ld}",
				   k, (k * 37) % 100, i);
		git_oid blob, tree_id, commit_id, head_id;
		git_reference *head;
		git_commit *parent;
		git_tree *base, *tree;

		check(git_blob_create_from_buffer(&blob, repo, body, len),
		      "blob");
		check(git_reference_lookup(&head, repo, "refs/heads/main"),
		      "ref");
		git_oid_cpy(&head_id, git_reference_target(head));
		check(git_commit_lookup(&parent, repo, &head_id), "parent");
		check(git_commit_tree(&base, parent), "tree");
		git_tree_update upd = { GIT_TREE_UPDATE_UPSERT, blob,
					GIT_FILEMODE_BLOB, path };
		check(git_tree_create_updated(&tree_id, repo, base, 1, &upd),
		      "tree_create_updated");
		check(git_tree_lookup(&tree, repo, &tree_id), "tree lookup");
		snprintf(msg, sizeof msg, "put %s", path);
		const git_commit *parents[1] = { parent };
		check(git_commit_create(&commit_id, repo, "refs/heads/main",
					sig, sig, NULL, msg, tree, 1, parents),
		      "commit");
		git_tree_free(tree);
		git_tree_free(base);
		git_commit_free(parent);
		git_reference_free(head);
	}
	double t = now() - t0;
	printf("%ld %.6f\n", i, t);
	git_signature_free(sig);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return 0;
}
