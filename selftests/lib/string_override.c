// SPDX-License-Identifier: GPL-2.0
/*
 * Our own memset, memcpy, memmove, memcmp and strlen, linked into every
 * program that runs guest code (see guest.h). The compiler emits calls to
 * these for struct copies and zeroing even where the source has none; in a
 * -no-pie program the linker then binds those calls to these definitions,
 * inside the program image that is also the guest's, instead of to libc,
 * which the guest does not have. The host side of the program uses them
 * too, which costs a little speed and nothing else.
 *
 * Built with -fno-tree-loop-distribute-patterns (selftests/Makefile): else
 * GCC turns these very loops back into calls to themselves.
 */
#include <stddef.h>
#include <stdint.h>

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if ((uintptr_t)d - (uintptr_t)s >= n)
		return memcpy(dst, src, n);
	/* dst overlaps the end of src: copy backwards. */
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return p - s;
}
