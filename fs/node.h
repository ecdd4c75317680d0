/* node.h - the inode table: one node per name the kernel holds, keyed by
 * (parent, name), with lookup counts and forget as passthrough_ll has.
 * The fuse_ino_t of a node is its address (FUSE_ROOT_ID for the root);
 * st_ino is a hash of the node's path when first seen, so it is stable for
 * the node's life and across remounts for names that did not move.
 * All functions take the table lock themselves.
 */
#ifndef CHRONOFS_FS_NODE_H
#define CHRONOFS_FS_NODE_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct fs_doc;

/* What few nodes need, made for those only: most of a million nodes are
 * names `ls -l` looked up, never opened, outside snapshots. */
struct fs_node_rare {
	/* Inside snapshots: the commit the kernel's entry, attributes and
	 * pages for the node came from. */
	unsigned char commit[20];
	bool has_commit;
	/* A frozen snapshot's own name, cached long by the kernel with all
	 * below it. Once the name resolves to another commit (a rewrite, a
	 * commit with a slow clock) the node is superseded: lookups make a
	 * new node, so the kernel drops what it holds below the old one. */
	bool pinned;
	bool superseded;
	bool paged; /* the kernel holds the pages of blob `pages` */
	unsigned char pages[20];
	unsigned doc_opens; /* open files sharing doc */
	struct fs_doc *doc; /* open document buffer, see doc.c */
};

/* A million of these live while the kernel holds a million names (ls -l
 * of a big collection): kept to 72 bytes (80 with malloc's header; 112
 * before the rare fields moved out) with a name of up to 18 bytes. */
struct fs_node {
	struct fs_node *parent; /* holds a count in parent->nchild */
	char *name; /* inl, or allocated (a long name, a rename) */
	uint64_t nlookup;
	uint64_t ino;
	struct fs_node *next;
	struct fs_node_rare *rare; /* NULL for most */
	uint32_t nchild;
	bool detached; /* replaced by a rename: its path names another file */
	char inl[19];
};

/* N's open document buffer, or NULL. Caller holds the table lock, or an
 * open file of N (which keeps the buffer). */
static inline struct fs_doc *fs_node_doc(const struct fs_node *n)
{
	return n->rare ? n->rare->doc : NULL;
}

/* N's rare fields, made if need be (caller holds the table lock); NULL
 * if there is no memory. */
struct fs_node_rare *fs_node_rare_of(struct fs_node *n);

struct fs_nodes {
	pthread_mutex_t lock;
	struct fs_node root;
	struct fs_node **buckets;
	size_t nbuckets, count;
	const char *root_path; /* the path the root stands for ("" or a branch) */
};

int fs_nodes_init(struct fs_nodes *t, const char *root_path);
void fs_nodes_release(struct fs_nodes *t);

/* The node for a kernel inode number (borrowed). */
struct fs_node *fs_node_get(struct fs_nodes *t, fuse_ino_t ino);
fuse_ino_t fs_node_ino(struct fs_nodes *t, struct fs_node *n);

/* The path of N, or of child NAME of N if NAME is not NULL; caller frees.
 * -ESTALE for a detached node. */
int fs_node_path(struct fs_nodes *t, struct fs_node *n, const char *name,
		 char **out);

/* Find or make child NAME of PARENT and count one kernel lookup. COMMIT
 * (NULL outside snapshots) is the commit the answer comes from; PIN: the
 * name is a frozen snapshot's own name. */
int fs_node_ref(struct fs_nodes *t, struct fs_node *parent, const char *name,
		const unsigned char *commit, bool pin, struct fs_node **out);

/* Inside a snapshot, may the kernel keep what it holds for N, now that N
 * resolves to COMMIT? If not, N is noted as coming from COMMIT. */
bool fs_node_same_commit(struct fs_nodes *t, struct fs_node *n,
			 const unsigned char *commit);
void fs_node_forget(struct fs_nodes *t, struct fs_node *n, uint64_t count);

/* A rename succeeded: move child NAME of PARENT to NEWNAME of NEWPARENT,
 * detaching whatever node was there. */
void fs_node_move(struct fs_nodes *t, struct fs_node *parent, const char *name,
		  struct fs_node *newparent, const char *newname);

/* Child NAME of PARENT was unlinked: its node keeps serving the files
 * open on it, under no reachable name. */
void fs_node_detach(struct fs_nodes *t, struct fs_node *parent,
		    const char *name);

/* Share N's document buffer: attach FRESH if N has none (then *used is
 * true) and count one more open. Returns the attached buffer, or NULL
 * if there is no memory (FRESH is then not used). */
struct fs_doc *fs_node_doc_acquire(struct fs_nodes *t, struct fs_node *n,
				   struct fs_doc *fresh, bool *used);
/* Count one open less; at the last, detach and return the buffer for the
 * caller to free (else NULL). */
struct fs_doc *fs_node_doc_put(struct fs_nodes *t, struct fs_node *n);

/* The nodes along REL (a path below the mount's root): INOS[i] for its
 * first i+1 components, 0 from the first one the table does not hold.
 * Returns the components seen (at most MAX). Numbers only: the nodes may
 * be forgotten once the lock is let go (for notifications to the kernel,
 * which ignores numbers it does not know). */
size_t fs_node_walk(struct fs_nodes *t, const char *rel, fuse_ino_t *inos,
		    size_t max);

/* The stable st_ino for PATH. */
uint64_t fs_path_ino(const char *path);

#endif
