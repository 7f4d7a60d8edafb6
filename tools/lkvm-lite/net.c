// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm-lite run -n: the guest's virtio-net NICs, which live in the module.
 *
 * Each -n is "key=value,..." with the keys ifname (the host net_device's
 * name, or a pattern with one %d) and mac (the guest's address); an empty
 * -n takes the module's defaults. Everything that can be wrong with an
 * option is found while parsing, and the count against what the module
 * allows before the VM exists, so that a refused option never leaves a
 * half-built VM behind; only what the kernel alone knows (a name already
 * taken) is found by LKVM_CREATE_NET, and named with the option at fault.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/lkvm_lite.h>

#include "net.h"

#define IFNAME_MAX	15	/* IFNAMSIZ less its NUL */

static void refuse(const struct net_opt *nic, const char *why)
{
	fprintf(stderr, "lkvm-lite run: -n %s: %s\n", nic->arg[0] ? nic->arg : "''", why);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly xx:xx:xx:xx:xx:xx, so that a typo is never read as another address. */
static int parse_mac(struct net_opt *nic, const char *s, size_t len)
{
	unsigned int i;
	int hi, lo;

	if (len != 17)
		goto bad;
	for (i = 0; i < 6; i++) {
		hi = hexval(s[3 * i]);
		lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			goto bad;
		nic->mac[i] = hi << 4 | lo;
	}
	if (nic->mac[0] & 1) {
		refuse(nic,
		       "mac: a multicast address (low bit of the first byte set); a NIC needs a unicast one");
		return -1;
	}
	if (!(nic->mac[0] | nic->mac[1] | nic->mac[2] | nic->mac[3] | nic->mac[4] | nic->mac[5])) {
		refuse(nic,
		       "mac: 00:00:00:00:00:00 is no address (leave mac out for a random one)");
		return -1;
	}
	return 0;
bad:
	refuse(nic, "mac: not an address of the form xx:xx:xx:xx:xx:xx (hex)");
	return -1;
}

/*
 * What the kernel's dev_valid_name() takes, and at most one "%d", the only
 * conversion its name allocation expands: anything else would be a name
 * the module refuses with a bare EINVAL.
 */
static int parse_ifname(struct net_opt *nic, const char *s, size_t len)
{
	const char *pct;
	size_t i;

	if (!len) {
		refuse(nic, "ifname: empty name (leave ifname out for the default lkvm%d)");
		return -1;
	}
	if (len > IFNAME_MAX) {
		refuse(nic, "ifname: name longer than 15 characters");
		return -1;
	}
	memcpy(nic->ifname, s, len);
	nic->ifname[len] = '\0';
	if (!strcmp(nic->ifname, ".") || !strcmp(nic->ifname, "..")) {
		refuse(nic, "ifname: not an interface name");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '/' || s[i] == ':' || s[i] <= ' ' || s[i] == 0x7f) {
			refuse(nic, "ifname: no '/', ':', spaces or control characters in a name");
			return -1;
		}
	}
	pct = strchr(nic->ifname, '%');
	if (pct && (pct[1] != 'd' || strchr(pct + 1, '%'))) {
		refuse(nic, "ifname: the only pattern allowed is one %d");
		return -1;
	}
	return 0;
}

int net_parse(struct net_opts *nets, const char *arg)
{
	struct net_opt *nic;
	bool seen_ifname = false, seen_mac = false;
	const char *key, *val, *end;
	size_t klen, vlen;

	if (nets->n >= NET_MAX) {
		fprintf(stderr,
			"lkvm-lite run: -n %s: more than %d NICs (PCI bus 0 has no more free slots)\n",
			arg[0] ? arg : "''", NET_MAX);
		return -1;
	}
	nic = &nets->nic[nets->n];
	memset(nic, 0, sizeof(*nic));
	nic->arg = arg;
	for (key = arg; *arg; key = end + 1) {
		end = strchrnul(key, ',');
		val = memchr(key, '=', end - key);
		klen = (val ?: end) - key;
		val = val ? val + 1 : NULL;
		vlen = val ? (size_t)(end - val) : 0;
		if (!klen) {
			refuse(nic, "an empty key (a stray ',' or '=')");
			return -1;
		}
		if (klen == 6 && !strncmp(key, "ifname", 6)) {
			if (seen_ifname) {
				refuse(nic, "ifname given twice");
				return -1;
			}
			seen_ifname = true;
		} else if (klen == 3 && !strncmp(key, "mac", 3)) {
			if (seen_mac) {
				refuse(nic, "mac given twice");
				return -1;
			}
			seen_mac = true;
		} else {
			fprintf(stderr, "lkvm-lite run: -n %s: unknown key '%.*s' (ifname, mac)\n",
				arg, (int)klen, key);
			return -1;
		}
		if (!val) {
			fprintf(stderr, "lkvm-lite run: -n %s: %.*s needs a value (%.*s=...)\n",
				arg, (int)klen, key, (int)klen, key);
			return -1;
		}
		if (klen == 3 ? parse_mac(nic, val, vlen) : parse_ifname(nic, val, vlen))
			return -1;
		if (!*end)
			break;
	}
	nets->n++;
	return 0;
}

static uint64_t net_cap(int sys_fd)
{
	struct lkvm_cap c = { .cap = LKVM_CAP_NET };

	return ioctl(sys_fd, LKVM_CHECK_CAP, &c) < 0 ? 0 : c.value;
}

int net_check(int sys_fd, const struct net_opts *nets)
{
	uint64_t max;

	if (!nets->n)
		return 0;
	max = net_cap(sys_fd);
	if (!max) {
		fprintf(stderr,
			"lkvm-lite run: -n %s: this lkvm_lite module has no in-kernel NIC (LKVM_CAP_NET is 0)\n",
			nets->nic[0].arg[0] ? nets->nic[0].arg : "''");
		return 1;
	}
	if (nets->n > max) {
		fprintf(stderr,
			"lkvm-lite run: -n %s: too many NICs: this module allows %llu per VM\n",
			nets->nic[max].arg[0] ? nets->nic[max].arg : "''", (unsigned long long)max);
		return 2;
	}
	return 0;
}

static const char *create_error(int err)
{
	switch (err) {
	case EEXIST:
		return "the host interface name is taken";
	case ENOSPC:
		return "no room for another NIC";
	case EINVAL:
		return "the module refused the name or address";
	}
	return NULL;
}

int net_create(int vm_fd, const struct net_opts *nets)
{
	struct lkvm_net out[NET_MAX];
	const struct net_opt *nic;
	const uint8_t *m;
	unsigned int i;
	const char *why;

	for (i = 0; i < nets->n; i++) {
		nic = &nets->nic[i];
		out[i] = (struct lkvm_net){};
		memcpy(out[i].ifname, nic->ifname, sizeof(out[i].ifname));
		memcpy(out[i].mac, nic->mac, sizeof(out[i].mac));
		if (ioctl(vm_fd, LKVM_CREATE_NET, &out[i]) < 0) {
			why = create_error(errno);
			fprintf(stderr, "lkvm-lite run: -n %s: LKVM_CREATE_NET: %s%s%s%s\n",
				nic->arg[0] ? nic->arg : "''", strerror(errno), why ? " (" : "",
				why ?: "", why ? ")" : "");
			return -1;
		}
	}
	/* After all of them: a later failure must not leave lines about NICs that went away. */
	for (i = 0; i < nets->n; i++) {
		m = out[i].mac;
		fprintf(stderr,
			"lkvm-lite: net%u: host %.16s, guest %02x:%02x:%02x:%02x:%02x:%02x, pci 00:%02x.%x\n",
			i, out[i].ifname, m[0], m[1], m[2], m[3], m[4], m[5],
			out[i].pci_devfn >> 3 & 0x1f, out[i].pci_devfn & 7);
	}
	return 0;
}
