/* ctl_json.c: the struct viommu_out (iommu/viommu.h) the control socket hands a vIOMMU model: each call adds
 * a member to the innermost open object or array, built with jansson (vmm/ctl.h). A failure (out of memory,
 * nesting deeper than the stack) is remembered and turns the reply into an error. */
#include <jansson.h>
#include "vmm/ctl.h"

static void add(struct ctl_json_out *j, const char *key, json_t *v)
{
	json_t *parent;
	int ret;

	if (!v || j->failed || !j->depth) {
		json_decref(v);
		j->failed = true;
		return;
	}
	parent = j->stack[j->depth - 1];
	if (json_is_array(parent))
		ret = json_array_append_new(parent, v);
	else
		ret = json_object_set_new(parent, key ? key : "", v);
	if (ret)
		j->failed = true;
}

static void out_uint(void *ctx, const char *key, u64 v)
{
	/* JSON integers here are signed 64-bit; no counter or id of ivmm comes near 2^63. */
	add(ctx, key, json_integer((json_int_t)v));
}

static void out_sint(void *ctx, const char *key, long long v)
{
	add(ctx, key, json_integer((json_int_t)v));
}

static void out_num(void *ctx, const char *key, double v)
{
	add(ctx, key, json_real(v));
}

static void out_str(void *ctx, const char *key, const char *v)
{
	add(ctx, key, json_string(v ? v : ""));
}

static void out_flag(void *ctx, const char *key, bool v)
{
	add(ctx, key, json_boolean(v));
}

static void out_begin(void *ctx, const char *key, bool array)
{
	struct ctl_json_out *j = ctx;
	json_t *v = array ? json_array() : json_object();

	if (!v || j->failed || j->depth == ARRAY_SIZE(j->stack)) {
		json_decref(v);
		j->failed = true;
		j->depth++; /* keeps begin/end balanced; add() refuses while failed */
		return;
	}
	add(j, key, json_incref(v));
	j->stack[j->depth++] = v;
	json_decref(v);
}

static void out_end(void *ctx)
{
	struct ctl_json_out *j = ctx;

	if (j->depth > 1)
		j->depth--;
	else
		j->failed = true;
}

void ctl_json_out_init(struct ctl_json_out *j, void *root, struct viommu_out *out)
{
	j->stack[0] = root;
	j->depth = 1;
	j->failed = false;
	*out = (struct viommu_out){
		.uint = out_uint, .sint = out_sint, .num = out_num, .str = out_str, .flag = out_flag,
		.begin = out_begin, .end = out_end, .ctx = j,
	};
}
