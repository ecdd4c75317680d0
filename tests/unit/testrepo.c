/* testrepo.c - the unit tests' repositories and outside commits (see
 * testrepo.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "testrepo.h"
#include "banned.h"

int testrepo_open(struct store **out, char *dir, const struct store_opts *opts)
{
	struct store_opts none = { 0 };
	int err;

	*out = NULL;
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	if ((err = store_init(dir)) < 0 ||
	    (err = store_open(out, dir, opts ? opts : &none)) < 0) {
		fprintf(stderr, "store: %d %s\n", err, store_errmsg());
		return -1;
	}
	return 0;
}

void testrepo_close(struct store *st, const char *dir)
{
	char cmd[4200];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* The tree of PARENT, or the empty tree for a root commit. */
static int base_tree(struct store *st, const struct store_oid *parent,
		     git_commit **pc, git_tree **out)
{
	git_treebuilder *tb = NULL;
	git_oid empty;
	int err;

	if (parent) {
		err = git_commit_lookup(pc, st->repo, store_goid(parent));
		return err ? err : git_commit_tree(out, *pc);
	}
	err = git_treebuilder_new(&tb, st->repo, NULL);
	if (err == 0)
		err = git_treebuilder_write(&empty, tb);
	if (err == 0)
		err = git_tree_lookup(out, st->repo, &empty);
	git_treebuilder_free(tb);
	return err;
}

int testrepo_commit(struct store *st, struct store_oid *out,
		    const struct store_oid *parent, int64_t time, int tz,
		    const struct testrepo_put *puts, size_t n)
{
	git_tree_update *up = calloc(n + 1, sizeof(*up));
	git_commit *pc = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_signature *sig = NULL;
	git_oid tid, cid;
	int err = up ? 0 : -1;

	memset(out, 0, sizeof(*out));
	if (err == 0)
		err = base_tree(st, parent, &pc, &base);
	for (size_t i = 0; i < n && err == 0; i++) {
		up[i].path = puts[i].path;
		if (!puts[i].data) {
			up[i].action = GIT_TREE_UPDATE_REMOVE;
			continue;
		}
		up[i].action = GIT_TREE_UPDATE_UPSERT;
		up[i].filemode = puts[i].mode ? puts[i].mode :
						GIT_FILEMODE_BLOB;
		if (puts[i].mode == GIT_FILEMODE_COMMIT)
			err = git_oid_fromstr(&up[i].id, puts[i].data);
		else
			err = git_blob_create_from_buffer(&up[i].id, st->repo,
							  puts[i].data,
							  strlen(puts[i].data));
	}
	if (err == 0)
		err = git_tree_create_updated(&tid, st->repo, base, n, up);
	if (err == 0)
		err = git_tree_lookup(&tree, st->repo, &tid);
	if (err == 0)
		err = git_signature_new(&sig, "t", "t@example.org",
					(git_time_t)time, tz);
	if (err == 0)
		err = git_commit_create(&cid, st->repo, NULL, sig, sig, NULL,
					"test", tree, parent ? 1 : 0,
					(const git_commit **)&pc);
	if (err == 0)
		memcpy(out->id, cid.id, STORE_OID_RAWSZ);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(pc);
	free(up);
	return err;
}

int testrepo_branch(struct store *st, const char *name,
		    const struct store_oid *c)
{
	git_reference *ref = NULL;
	char full[256];
	int err;

	snprintf(full, sizeof(full), "refs/heads/%s", name);
	err = git_reference_create(&ref, st->repo, full, store_goid(c), 1,
				   NULL);
	git_reference_free(ref);
	return err;
}
