// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: seeds and random numbers.
 *
 * Seed: --seed on the command line, else $CAPCHAN_FUZZ_SEED, else the first
 * line of /data/capchan_fuzz_seed (run.sh -f FILE:/data/capchan_fuzz_seed),
 * else a fixed default; each test mixes in its own name.  xorshift64*,
 * seeded through splitmix64.
 */
#include "fuzz.h"

static uint64_t fz_mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void fz_srand(struct fz_rng *r, uint64_t seed)
{
	r->s = fz_mix(seed) | 1;
}

uint64_t fz_r64(struct fz_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

uint32_t fz_rn(struct fz_rng *r, uint32_t n)
{
	return n ? (uint32_t)(fz_r64(r) % n) : 0;
}

bool fz_pct(struct fz_rng *r, unsigned int p)
{
	return fz_rn(r, 100) < p;
}

void fz_bytes(struct fz_rng *r, void *p, size_t n)
{
	unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)fz_r64(r);
}

static uint64_t seed;
static bool have;

/* The seed given on the command line: it beats every other source. */
void fz_set_base_seed(uint64_t s)
{
	seed = s;
	have = true;
}

uint64_t fz_base_seed(void)
{
	char buf[64];
	const char *s;

	if (have)
		return seed;
	seed = FZ_DEFAULT_SEED;
	s = getenv("CAPCHAN_FUZZ_SEED");
	if (!s || !*s) {
		int fd = open("/data/capchan_fuzz_seed", O_RDONLY | O_CLOEXEC);

		s = NULL;
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			if (n > 0) {
				buf[n] = '\0';
				s = buf;
			}
			close(fd);
		}
	}
	if (s && *s)
		seed = strtoull(s, NULL, 0);
	have = true;
	return seed;
}

uint64_t fz_test_seed(const char *name)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return fz_base_seed() ^ h;
}
