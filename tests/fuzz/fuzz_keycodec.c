/*
 * fuzz_keycodec.c - libFuzzer target for index/keycodec.c: the decoder on
 * arbitrary bytes, and encode/decode round trips of any JSON jansson parses.
 */
#include "keycodec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Equal as JSON values, numbers by value whatever their type. */
static bool same_value(const json_t *a, const json_t *b);

static bool same_number(const json_t *a, const json_t *b)
{
	json_int_t i;
	double d;

	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_real(a) && json_is_real(b))
		return json_real_value(a) == json_real_value(b);
	i = json_integer_value(json_is_integer(a) ? a : b);
	d = json_real_value(json_is_real(a) ? a : b);
	/* 2^63 is exact; below it the cast is defined and exact if equal. */
	return d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
	       (json_int_t)d == i && (double)(json_int_t)d == d;
}

static bool same_object(const json_t *a, const json_t *b)
{
	const char *key;
	size_t len;
	json_t *v;

	if (json_object_size(a) != json_object_size(b))
		return false;
	json_object_keylen_foreach((json_t *)a, key, len, v)
	{
		if (!same_value(v, json_object_getn(b, key, len)))
			return false;
	}
	return true;
}

static bool same_value(const json_t *a, const json_t *b)
{
	size_t n;

	if (!a || !b)
		return a == b;
	if (json_is_number(a) && json_is_number(b))
		return same_number(a, b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b),
			       json_string_length(a));
	case JSON_ARRAY:
		n = json_array_size(a);
		if (n != json_array_size(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!same_value(json_array_get(a, i),
					json_array_get(b, i)))
				return false;
		return true;
	case JSON_OBJECT:
		return same_object(a, b);
	default:
		return true;
	}
}

/*
 * (a) Arbitrary bytes as a key. The first byte picks the number of
 * components (low 2 bits) and their directions (next 3 bits). Whatever is
 * accepted must re-encode to the same bytes, and format must accept it.
 */
static void fuzz_decode(const uint8_t *data, size_t size)
{
	bool desc[3];
	size_t n, id_len;
	json_t *v[3];
	char *id, *text;
	struct idx_buf again;
	int err;

	if (!size)
		return;
	n = data[0] & 3;
	for (size_t i = 0; i < 3; i++)
		desc[i] = data[0] >> (2 + i) & 1;
	err = idx_key_decode(v, &id, &id_len, data + 1, size - 1, desc, n);
	if (err && err != -EINVAL && err != -ERANGE)
		abort();
	if (!idx_key_format(&text, data + 1, size - 1, desc, n))
		free(text);
	else if (!err)
		abort();
	if (err)
		return;
	idx_buf_init(&again);
	if (idx_key_encode(&again, v, desc, n, id, id_len) ||
	    again.len != size - 1 || memcmp(again.data, data + 1, again.len))
		abort();
	idx_buf_release(&again);
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(id);
}

/* (b) The bytes as JSON: encode it both ways, decode, compare. */
static void fuzz_round_trip(const uint8_t *data, size_t size)
{
	json_t *v = json_loadb((const char *)data, size,
			       JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	json_t *in[2] = { v, v }, *out[2];
	const bool desc[2] = { false, true };
	struct idx_buf key, again;
	char *id;
	size_t id_len;

	if (!v)
		return;
	idx_buf_init(&key);
	idx_buf_init(&again);
	if (idx_key_encode(&key, in, desc, 2, "id", 2))
		abort();
	if (idx_key_decode(out, &id, &id_len, key.data, key.len, desc, 2))
		abort();
	if (!same_value(v, out[0]) || !same_value(v, out[1]) || id_len != 2 ||
	    memcmp(id, "id", 3))
		abort();
	if (idx_key_encode(&again, out, desc, 2, id, id_len) ||
	    again.len != key.len || memcmp(again.data, key.data, key.len))
		abort();
	json_decref(out[0]);
	json_decref(out[1]);
	free(id);
	idx_buf_release(&again);
	idx_buf_release(&key);
	json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decode(data, size);
	fuzz_round_trip(data, size);
	return 0;
}
