// SPDX-License-Identifier: GPL-2.0
/*
 * The BTF layer: where the module carries BTF (Debian 6.12), VERSION
 * reports CAPCHAN_FEAT_BTF and a tracing program attached with fexit to
 * capchan_execute() can call the module's kfuncs on the typed request.
 * Where it does not (6.1 without the post-link BTF step), the feature bit
 * is clear and the module loaded all the same: the test says so and skips.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <bpf/libbpf.h>

#include "btf_kfunc.skel.h"

FIXTURE(btf) {
	struct capchan ch;
	struct cc_tree t;
	struct capchan_version v;
};

FIXTURE_SETUP(btf)
{
	ASSERT_EQ(0, cc_tree_create(&self->t, "btf"));
	ASSERT_EQ(0, capchan_queue_init(8, &self->ch, 0));
	ASSERT_EQ(0, cc_version(self->ch.fd, &self->v));
}

FIXTURE_TEARDOWN(btf)
{
	capchan_queue_exit(&self->ch);
	cc_tree_destroy(&self->t);
}

/* The feature bit says exactly whether the module has BTF to attach to. */
TEST_F(btf, feature_matches_module_btf)
{
	bool has_btf = access("/sys/kernel/btf/capchan", R_OK) == 0;

	EXPECT_EQ(has_btf, !!(self->v.features & CAPCHAN_FEAT_BTF));
}

TEST_F(btf, kfuncs_from_fexit)
{
	struct btf_kfunc *skel;
	char want[PATH_MAX], buf[8];
	struct capchan_sqe s;
	int dir, file, err;

	if (!(self->v.features & CAPCHAN_FEAT_BTF))
		SKIP(return, "no module BTF on this kernel: the BTF layer is off");
	skel = btf_kfunc__open();
	ASSERT_NE(NULL, skel);
	skel->bss->target_pid = getpid();
	err = btf_kfunc__load(skel);
	ASSERT_EQ(0, err) TH_LOG("load: %d", err);
	ASSERT_EQ(0, btf_kfunc__attach(skel));

	dir = capchan_grant(&self->ch, self->t.jail_fd,
			    R_LOOKUP | R_READ | R_STAT);
	ASSERT_LT(0, dir);
	file = capchan_open_beneath(&self->ch, dir, "hello", 0, 0,
				    R_READ | R_STAT);
	ASSERT_LT(0, file);
	/* the OPEN ran on the DIR capability: its rights, its path */
	EXPECT_EQ(R_LOOKUP | R_READ | R_STAT, skel->bss->rights);
	ASSERT_NE(NULL, realpath(self->t.jail, want));
	EXPECT_EQ((int)strlen(want), skel->bss->path_len);
	EXPECT_STREQ(want, skel->bss->path);

	/* a READ on the FILE capability: the file's */
	EXPECT_LT(0, capchan_read(&self->ch, file, buf, sizeof(buf),
				  CAPCHAN_OFF_CURRENT));
	EXPECT_EQ(R_READ | R_STAT, skel->bss->rights);
	strncat(want, "/hello", sizeof(want) - strlen(want) - 1);
	EXPECT_STREQ(want, skel->bss->path);

	/* NOP acts on no capability */
	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	EXPECT_EQ(0, cc_invoke(self->ch.fd, &s));
	EXPECT_EQ(0, skel->bss->rights);
	EXPECT_EQ(-ENOENT, skel->bss->path_len);

	/*
	 * CLOSE may free the capability: the request no longer names it
	 * (a kfunc would read freed memory, slub's 0x6b poison)
	 */
	EXPECT_EQ(0, capchan_close(&self->ch, file));
	EXPECT_EQ(0, skel->bss->rights);
	EXPECT_EQ(-ENOENT, skel->bss->path_len);
	EXPECT_EQ(4, skel->bss->calls);
	btf_kfunc__destroy(skel);
}

TEST_HARNESS_MAIN
