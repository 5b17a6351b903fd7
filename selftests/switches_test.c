// SPDX-License-Identifier: GPL-2.0
/*
 * The administrator's switches: the kill switch (accept_channels), the
 * opcode allowlist (allowed_ops) next to the denylist (disabled_ops), and
 * the per-user channel limit (max_user_channels).  Each test restores the
 * parameter it changes.
 */
#include "capchan_test_util.h"
#include "kselftest_harness.h"

#include <sys/prctl.h>

#define PARAMS "/sys/module/capchan/parameters/"

static int set_param(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), PARAMS "%s", name);
	return cc_write_str(path, val);
}

/* Reads a parameter as text ("Y"/"N" for bools); "" if unreadable. */
static void get_param(const char *name, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	buf[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* A NOP through INVOKE: 0, or why not. */
static int nop(int fd)
{
	struct capchan_sqe s;

	cc_sqe(&s, CAPCHAN_OP_NOP, 0);
	return cc_invoke(fd, &s);
}

TEST(kill_switch_refuses_new_channels_only)
{
	struct capchan_version v;
	int before, fd;

	before = cc_open_dev();
	ASSERT_LE(0, before);
	ASSERT_EQ(0, set_param("accept_channels", "0"));
	EXPECT_EQ(-EPERM, cc_open_dev());
	/* what is open keeps working until closed */
	EXPECT_EQ(0, nop(before));
	EXPECT_EQ(0, cc_version(before, &v));
	ASSERT_EQ(0, set_param("accept_channels", "1"));
	fd = cc_open_dev();
	EXPECT_LE(0, fd);
	EXPECT_EQ(0, nop(fd));
	close(fd);
	close(before);
}

TEST(allowlist_and_denylist)
{
	char saved[64];
	struct capchan_version v;
	struct capchan_sqe s;
	int fd = cc_open_dev();

	ASSERT_LE(0, fd);
	get_param("allowed_ops", saved, sizeof(saved));
	ASSERT_NE(0, saved[0]);
	/* only NOP and STAT allowed */
	ASSERT_EQ(0, set_param("allowed_ops", "33"));
	ASSERT_EQ(0, cc_version(fd, &v));
	EXPECT_EQ((1ULL << CAPCHAN_OP_NOP) | (1ULL << CAPCHAN_OP_STAT), v.ops);
	EXPECT_EQ(0, nop(fd));
	/* refused before anything else is looked at */
	cc_sqe(&s, CAPCHAN_OP_DERIVE, 12345);
	EXPECT_EQ(-EOPNOTSUPP, cc_invoke(fd, &s));
	cc_sqe(&s, CAPCHAN_OP_READDIR, 12345);
	EXPECT_EQ(-EOPNOTSUPP, cc_invoke(fd, &s));
	/* the denylist still applies inside the allowlist */
	ASSERT_EQ(0, set_param("disabled_ops", "1"));
	EXPECT_EQ(-EOPNOTSUPP, nop(fd));
	ASSERT_EQ(0, cc_version(fd, &v));
	EXPECT_EQ(1ULL << CAPCHAN_OP_STAT, v.ops);
	ASSERT_EQ(0, set_param("disabled_ops", "0"));
	ASSERT_EQ(0, set_param("allowed_ops", saved));
	ASSERT_EQ(0, cc_version(fd, &v));
	EXPECT_EQ((1ULL << CAPCHAN_OP_LAST) - 1, v.ops);
	EXPECT_EQ(0, nop(fd));
	close(fd);
}

/* A fresh uid so no other test's channels count. */
#define CHAN_UID	61001

TEST(per_user_channel_limit)
{
	char saved[64];
	pid_t pid;
	int fd;

	get_param("max_user_channels", saved, sizeof(saved));
	ASSERT_NE(0, saved[0]);
	ASSERT_EQ(0, set_param("max_user_channels", "5"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct cc_fdinfo fi;
		int fds[6], i;

		if (setresgid(CHAN_UID, CHAN_UID, CHAN_UID) ||
		    setresuid(CHAN_UID, CHAN_UID, CHAN_UID))
			_exit(10);
		/* a uid change hides our own fdinfo unless we stay dumpable */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			_exit(11);
		for (i = 0; i < 5; i++) {
			fds[i] = cc_open_dev();
			if (fds[i] < 0)
				_exit(20 + i);
		}
		if (cc_open_dev() != -EMFILE)
			_exit(30);
		if (cc_read_fdinfo(fds[0], &fi) || fi.user != CHAN_UID ||
		    fi.user_channels != 5)
			_exit(31);
		/* closing one makes room for one */
		close(fds[4]);
		fds[4] = cc_open_dev();
		if (fds[4] < 0)
			_exit(32);
		if (cc_open_dev() != -EMFILE)
			_exit(33);
		_exit(0);
	}
	EXPECT_EQ(0, cc_wait_child(pid));
	/* another user is not affected by that user's channels */
	fd = cc_open_dev();
	EXPECT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, set_param("max_user_channels", saved));
}

TEST_HARNESS_MAIN
