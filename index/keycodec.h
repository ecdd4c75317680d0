/*
 * keycodec.h - order-preserving ("memcomparable") index keys for JSON values.
 * RocksDB's default bytewise comparator orders the keys; nothing is decoded
 * to compare.
 *
 * Collation
 * =========
 *
 * memcmp of two encodings (a shorter string that is a prefix of a longer one
 * sorts first) orders exactly as the values collate:
 *
 *   missing < null < false < true < numbers < strings < arrays < objects
 *
 * - Numbers order by exact value across json_integer (int64) and json_real
 *   (double). A number is encoded by its value alone, so 3 and 3.0 give the
 *   same bytes and so do 0, 0.0 and -0.0; 2^53 + 1 sorts above 2^53.
 * - Strings order by their UTF-8 bytes: "" < "a" < "a\0" < "ab" < "b".
 * - Arrays order element by element; a proper prefix sorts first:
 *   [] < [1] < [1, 2] < [2].
 * - Objects order as the list of their (key, value) pairs sorted by key
 *   bytes, compared pair by pair (key first, then value); a proper prefix
 *   sorts first: {} < {"a": 1} < {"a": 1, "b": 0} < {"a": 2} < {"b": 0}.
 *   Jansson's insertion order plays no part.
 * - A descending component reverses all of this, missing included: in a
 *   descending field a document without the field sorts last.
 *
 * Byte format (version 1)
 * =======================
 *
 *   key       := 0x01 component... doc-id      one component per field
 *   prefix    := 0x01 component...             first K components, no doc-id
 *   component := value      for an ascending field
 *              | ~value     for a descending field (every byte inverted)
 *   doc-id    := escaped 0x00 0x01             always ascending, no tag
 *   escaped   := the bytes, each 0x00 written as 0x00 0xFF
 *
 *   tag   value       rest of the value
 *   ----  ----------  -----------------------------------------------------
 *   0x00  -           (end of an array or object; never starts a value)
 *   0x10  missing     -    (top level only: the document lacks the field)
 *   0x20  null        -
 *   0x30  false       -
 *   0x31  true        -
 *   0x40  NaN         -    \
 *   0x41  -Infinity   -     } not JSON; reachable through
 *   0x45  +Infinity   -    /  idx_key_append_double() only
 *   0x42  negative    ~magnitude (inverted, so larger |v| sorts lower)
 *   0x43  zero        -
 *   0x44  positive    magnitude
 *   0x60  string      escaped 0x00 0x01
 *   0x70  array       value... 0x00
 *   0x80  object      (0x60 escaped-key 0x00 0x01 value)... 0x00
 *                     pairs in strictly increasing key-byte order
 *
 *   magnitude := E1 E0 group...
 *     |v| = 1.f (binary) * 2^e.  E1 E0 is e + 1075 big-endian, so 1 for the
 *     smallest denormal (2^-1074) up to 2098 for DBL_MAX (2^1023); int64
 *     needs e in 0..63.  The fraction bits f follow, most significant
 *     first, 7 per byte as (bits << 1) | more, where more is 1 if another
 *     byte follows. Trailing all-zero groups are dropped but one group is
 *     always written.  f has at most 62 bits (INT64_MAX), so at most 9
 *     groups: a number takes 1 to 12 bytes.
 *
 * Worked examples (hex)
 * ---------------------
 *
 *   missing                    10
 *   null, false, true          20; 30; 31
 *   0, 0.0, -0.0               43
 *   1    = 1.0b * 2^0          44 04 33 00
 *   3    = 1.1b * 2^1          44 04 34 80          (f = 1000000b, more = 0)
 *   3.0                        44 04 34 80          (same key as 3)
 *   0.5  = 1.0b * 2^-1         44 04 32 00
 *   -1                         42 fb cc ff          (~ of 04 33 00)
 *   2^-1074 (least denormal)   44 00 01 00
 *   DBL_MAX                    44 08 32 ff ff ff ff ff ff ff e0
 *   INT64_MIN = -2^63          42 fb 8d ff
 *   "ab"                       60 61 62 00 01
 *   "a\0b"                     60 61 00 ff 62 00 01
 *   []                         70 00
 *   [1, "a"]                   70 44 04 33 00 60 61 00 01 00
 *   {"b": true, "a": null}     80 60 61 00 01 20 60 62 00 01 31 00
 *   "ab", descending           9f 9e 9d ff fe
 *   (3 asc, "x" desc), id "d1" 01 44 04 34 80 9f 87 ff fe 64 31 00 01
 *
 * Why descending is plain inversion, and why nothing may be a prefix
 * -------------------------------------------------------------------
 *
 * Inverting every byte reverses memcmp order only between byte strings that
 * differ at some position inside both; if A were a proper prefix of B, A
 * would sort first both before and after inversion. So every value encoding
 * here is prefix-free, i.e. no encoding is a proper prefix of another: tags
 * are distinct; a magnitude has a fixed-width exponent and its last byte
 * is the only one with more = 0; escaped bytes end at 0x00 0x01, which the
 * escape 0x00 0xFF never produces; arrays and objects are prefix-free by
 * induction, their end byte 0x00 being no tag. Prefix-freedom also makes a
 * concatenation of components compare component by component, which is
 * what composite keys need, and lets the decoder find each end without a
 * length.
 *
 * Prior art
 * =========
 *
 * - FoundationDB tuple layer: a type-code byte per value, NUL escaped as
 *   0x00 0xFF, nested values closed by 0x00. Its strings end in a lone 0x00,
 *   though, so "a" (61 00) is a prefix of "a\0" (61 00 ff 00): fine
 *   ascending, wrong once inverted.
 * - orderedcode (Google) and CockroachDB's key encoding: the 0x00 0x01
 *   terminator that makes strings prefix-free, and descending as the
 *   inverted ascending bytes. CockroachDB also puts NaN below -Infinity.
 * - Numbers: FoundationDB keeps integers and floats apart, and the usual
 *   float trick (flip the IEEE bits) cannot hold all of int64. So numbers
 *   follow CockroachDB's decimal encoding and SQLite4's key encoding it
 *   descends from - sign class in the tag, then the exponent, then a
 *   mantissa whose digits are stored as 2X+1, the last as 2X - in base 2
 *   (7 bits a byte) instead of base 100, which represents every int64 and
 *   every finite double exactly and makes equal values identical bytes.
 * - MySQL/MyRocks memcomparable formats pad strings into fixed chunks with
 *   a count byte; escaping keeps short strings short, and chronofs orders
 *   by UTF-8 bytes, so no collation weights are needed.
 *
 * The version byte lets a future format coexist: keys of another version
 * are rejected with -EINVAL and the index is rebuilt from Git.
 *
 * All functions return 0 or a negative errno.
 */
#ifndef CHRONOFS_INDEX_KEYCODEC_H
#define CHRONOFS_INDEX_KEYCODEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* First byte of every key and prefix. */
#define IDX_KEY_VERSION 0x01

/*
 * Deepest array/object nesting encoded or decoded; the same as jansson's
 * parser limit, so every parsed document can be indexed.
 */
#define IDX_KEY_MAX_DEPTH 2048

/* A growable byte buffer owned by the caller: _init, use, _release. */
struct idx_buf {
	unsigned char *data;
	size_t len, cap;
};

void idx_buf_init(struct idx_buf *buf);
/* Frees the bytes and leaves @buf empty and reusable. Accepts NULL. */
void idx_buf_release(struct idx_buf *buf);
/* -ENOMEM leaves @buf unchanged. */
int idx_buf_append(struct idx_buf *buf, const void *data, size_t len);

/*
 * Append one component: @v (borrowed; NULL means the field is missing),
 * inverted when @desc. -E2BIG if @v nests deeper than IDX_KEY_MAX_DEPTH.
 * On any error @out is left as it was.
 */
int idx_key_append_value(struct idx_buf *out, const json_t *v, bool desc);

/*
 * Append one number component from a double. Unlike JSON it may be NaN or
 * +-Infinity (ordered NaN < -Infinity < finite < +Infinity, all NaNs
 * equal), for range bounds written in a query; finite values encode
 * exactly as the equal json_real/json_integer would.
 */
int idx_key_append_double(struct idx_buf *out, double d, bool desc);

/*
 * Append a full key: the version byte, @n components (@values[i], NULL
 * meaning missing, descending where @desc[i]; @desc may be NULL for all
 * ascending), then the document id's @doc_id_len bytes. On error @out is
 * left as it was.
 */
int idx_key_encode(struct idx_buf *out, json_t *const *values, const bool *desc,
		   size_t n, const char *doc_id, size_t doc_id_len);

/*
 * Append the version byte and the first @k components only. Every key
 * whose first @k components equal these starts with this prefix, so for a
 * range on the first field: ">= V" seeks to prefix(V), "< V" stops before
 * prefix(V) (with a descending field, "after V" and "before V" in index
 * order). See idx_key_prefix_successor() for "> V" and "<= V".
 */
int idx_key_encode_prefix(struct idx_buf *out, json_t *const *values,
			  const bool *desc, size_t k);

/*
 * Turn the prefix in @buf, in place, into the least byte string above every
 * key that starts with it: drop trailing 0xFF bytes, add one to the last.
 * So "> V" seeks to successor(prefix(V)) and "<= V" stops before it.
 * -ERANGE if @buf is empty or all 0xFF (never for a prefix, which starts
 * with the version byte).
 */
int idx_key_prefix_successor(struct idx_buf *buf);

/*
 * Decode a full key of @n components with the directions it was encoded
 * with (@desc may be NULL for all ascending). On success @values[0..n-1]
 * hold new references the caller must json_decref (NULL for missing), and
 * *@doc_id a malloc'd, NUL-terminated copy of the id (which may itself
 * contain NUL; its length goes to *@doc_id_len) the caller must free.
 * @doc_id and @doc_id_len may be NULL when not wanted.
 *
 * A number comes back as a json_integer when it is integral and fits
 * int64, otherwise as a json_real. Objects come back with keys in byte
 * order.
 *
 * -EINVAL for bytes the encoder cannot produce (truncated, trailing bytes,
 * bad tag or escape, non-canonical number, invalid UTF-8, unsorted or
 * duplicate object keys, another version); never reads outside
 * @key[0..len). -ERANGE for a NaN or infinite component, which JSON cannot
 * hold. On error nothing is allocated and the outputs are NULL.
 */
int idx_key_decode(json_t **values, char **doc_id, size_t *doc_id_len,
		   const unsigned char *key, size_t len, const bool *desc,
		   size_t n);

/*
 * Render a key (or a prefix, when the bytes end after the @n components)
 * for debugging as one line of JSON array text:
 * [component, ..., "doc-id"]. JSON has no words for some components,
 * which print as JavaScript does: missing as undefined, and NaN,
 * Infinity, -Infinity. A doc id that is not UTF-8 prints its bytes as
 * \u00XX escapes. *@out is malloc'd and NUL-terminated; the caller frees
 * it. Errors as idx_key_decode() except that -ERANGE does not occur.
 */
int idx_key_format(char **out, const unsigned char *key, size_t len,
		   const bool *desc, size_t n);

/* The first byte of a component whose field is missing (inverted in a
 * descending component): how a row says "no such field" without
 * decoding. */
#define IDX_KEY_TAG_MISSING 0x10

#endif
