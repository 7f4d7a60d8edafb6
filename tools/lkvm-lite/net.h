/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_LITE_NET_H
#define LKVM_LITE_NET_H

#include <stdbool.h>
#include <stdint.h>

/*
 * PCI bus 0 has 32 slots and the host bridge takes slot 0: no module can
 * offer more NICs than this, so more are refused before asking it.
 */
#define NET_MAX		31

/* One -n option, as given and as parsed. */
struct net_opt {
	const char *arg;
	char ifname[16];	/* empty: the module's default */
	uint8_t mac[6];		/* all zero: a random one */
};

struct net_opts {
	unsigned int n;
	struct net_opt nic[NET_MAX];
};

/* Parse one -n ARG into the next NIC; print why not and return -1. */
int net_parse(struct net_opts *nets, const char *arg);

/* Can the module behind @sys_fd give these NICs? 0, or the exit status. */
int net_check(int sys_fd, const struct net_opts *nets);

/* LKVM_CREATE_NET for each NIC in order, then one line each on stderr. */
int net_create(int vm_fd, const struct net_opts *nets);

#endif /* LKVM_LITE_NET_H */
