// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: the world every test fuzzes in: a tree to grant (fz_env in
 * fuzz.h draws it), fds of every kind, memory of every kind, and the
 * module's limits.
 */
#include "fuzz.h"

static int fz_bad_add(struct fz_env *e, int dirfd, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	e->bad[e->nbad].dev = st.st_dev;
	e->bad[e->nbad].ino = st.st_ino;
	e->nbad++;
	return 0;
}

/* The buffers the module writes to, in the arena (arena.c says why). */
static int fz_env_buffers(struct fz_env *e)
{
	e->scratch = fz_arena_alloc(FZ_SCRATCH, PROT_READ | PROT_WRITE);
	e->guard = e->scratch + FZ_SCRATCH;	/* the arena's gap: PROT_NONE */
	e->ro = fz_arena_alloc(4096, PROT_READ);
	e->none = fz_arena_alloc(FZ_NONE, PROT_NONE);
	e->priv = fz_arena_alloc(FZ_PRIV, PROT_READ | PROT_WRITE);
	e->longpath = fz_arena_alloc(PATH_MAX + 32, PROT_READ | PROT_WRITE);
	if (!e->scratch || !e->ro || !e->none || !e->priv || !e->longpath)
		return -ENOMEM;
	return 0;
}

int fz_env_init(struct fz_env *e)
{
	char abs_secret[PATH_MAX + 32];
	int err, j, sv[2];
	long long v;

	memset(e, 0, sizeof(*e));
	e->out_fd = e->file_rw = e->file_ro = e->file_wo = e->sub_fd = -1;
	e->null_fd = e->opath_fd = e->sock_fd = e->proc_fd = -1;
	e->pipe_fd[0] = e->pipe_fd[1] = -1;
	err = cc_tree_create(&e->t, "fuzz");
	if (err)
		return err;
	j = e->t.jail_fd;
	snprintf(abs_secret, sizeof(abs_secret), "%s/secret", e->t.base);
	if (symlinkat("hello", j, "ln_in") || symlinkat("../secret", j, "ln_up") ||
	    symlinkat(abs_secret, j, "ln_abs") || symlinkat("/", j, "ln_root") ||
	    symlinkat("ln_loop", j, "ln_loop") || symlinkat("sub", j, "ln_dir") ||
	    symlinkat("sub/../..", j, "ln_dotdot") ||
	    symlinkat("/proc/self/root", j, "ln_proc") ||
	    symlinkat("../hello", j, "sub/ln_back") ||
	    symlinkat("../../secret", j, "sub/ln_esc"))
		return -errno;
	if (mkfifoat(j, "fifo", 0644))
		return -errno;
	mknodat(j, "null", S_IFCHR | 0666, makedev(1, 3));	/* root only */
	if (mkdirat(j, "mnt", 0755) || mkdirat(j, "mv", 0755) ||
	    mkdirat(j, "mvd", 0755) || mkdirat(e->t.base_fd, "out", 0755))
		return -errno;
	snprintf(e->mnt, sizeof(e->mnt), "%s/mnt", e->t.jail);
	if (!mount("capchan-fuzz", e->mnt, "tmpfs", 0, "size=1m,mode=0755"))
		e->mounted = true;
	snprintf(e->out, sizeof(e->out), "%s/out", e->t.base);
	e->out_fd = open(e->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->out_fd < 0)
		return -errno;
	err = cc_put_str(j, "mnt/x", "mounted\n");
	if (!err)
		err = cc_put_str(j, "mv/x", "inside\n");
	if (!err)
		err = cc_put_str(e->out_fd, "secret2", CC_SECRET);
	if (!err)
		err = cc_put_str(e->out_fd, "secret3", CC_SECRET);
	if (err)
		return err;
	if (fz_bad_add(e, e->t.base_fd, ".") || fz_bad_add(e, e->t.base_fd, "secret") ||
	    fz_bad_add(e, e->out_fd, ".") || fz_bad_add(e, e->out_fd, "secret2") ||
	    fz_bad_add(e, AT_FDCWD, "/") || fz_bad_add(e, e->out_fd, "secret3"))
		return -EIO;
	/*
	 * The renamer moves secret3 into mvd while mvd is outside: a DIR
	 * capability on mvd itself may legitimately reach it then, a DIR
	 * capability on the jail (or sub) never.
	 */
	e->bad[e->nbad - 1].wanders = true;
	if (fz_outside_record(e))
		return -EIO;
	{
		struct stat st;

		if (fstat(j, &st))
			return -errno;
		e->jail_dev = st.st_dev;
	}

	e->file_rw = openat(j, "file", O_RDWR | O_CLOEXEC);
	e->file_ro = openat(j, "hello", O_RDONLY | O_CLOEXEC);
	e->file_wo = openat(j, "sub/inner", O_WRONLY | O_CLOEXEC);
	e->sub_fd = openat(j, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	e->opath_fd = openat(j, "hello", O_PATH | O_CLOEXEC);
	if (e->file_rw < 0 || e->file_ro < 0 || e->file_wo < 0 || e->sub_fd < 0 ||
	    e->null_fd < 0 || e->opath_fd < 0)
		return -errno;
	if (pipe2(e->pipe_fd, O_CLOEXEC) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	e->sock_fd = sv[0];
	close(sv[1]);

	err = fz_env_buffers(e);
	if (err)
		return err;
	memset(e->longpath, 'a', PATH_MAX + 16);
	e->longpath[PATH_MAX + 16] = '\0';

	v = cc_module_param("max_caps", &err);
	e->max_caps = err ? 4096 : (unsigned int)v;
	v = cc_module_param("max_depth", &err);
	e->max_depth = err ? 64 : (unsigned int)v;
	v = cc_module_param("disabled_ops", &err);
	e->disabled_ops = err ? 0 : (uint64_t)v;
	return 0;
}

void fz_env_destroy(struct fz_env *e)
{
	int fds[] = { e->out_fd, e->file_rw, e->file_ro, e->file_wo, e->sub_fd,
		      e->null_fd, e->opath_fd, e->sock_fd, e->pipe_fd[0],
		      e->pipe_fd[1], e->proc_fd };

	for (size_t i = 0; i < CC_ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (e->mounted)
		umount2(e->mnt, MNT_DETACH);
	fz_arena_free(e->scratch, FZ_SCRATCH);
	fz_arena_free(e->ro, 4096);
	fz_arena_free(e->priv, FZ_PRIV);
	fz_arena_free(e->longpath, PATH_MAX + 32);
	cc_tree_destroy(&e->t);
}
