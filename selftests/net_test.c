// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-net device with a stock Linux guest: Debian's kernel boots
 * under the launcher with two NICs (-n ifname=...,mac=...) to the busybox
 * initramfs (selftests/boot/guest-init, lkvm.test=net), whose virtio_net
 * driver binds to them. The test VM is the host end: each NIC's host
 * net_device gets a link-local address, and the tests send traffic both
 * ways, the guest side driven by commands written to its console.
 *
 * A boot costs about 20 s under TCG, so one guest serves every test: main()
 * boots it before the harness runs them, in the order they are written,
 * the two that end a NIC or the whole VM last.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/lkvm_lite.h>

#include "kselftest_harness.h"

#define LAUNCHER	"tools/lkvm-lite/lkvm-lite"
#define GUEST_INITRD	"build/selftests/boot-guest.cpio.gz"
/* As boot_test: a boot takes 20 to 30 s here; one past this has hung. */
#define BOOT_TIMEOUT_S	150
#define MTU		1500
#define MTU_FRAME	(ETH_HLEN + MTU)
/* ICMP echo data that fills an MTU: 1500 - IPv4 header - ICMP header. */
#define PING_MTU_DATA	(MTU - 20 - 8)
#define MIB		(1024 * 1024)
#define TCP_SIZE	(4 * MIB)
/* Not a multiple of TFTP's 512-byte blocks: the last one is short. */
#define UDP_SIZE	(256 * 1024 + 123)
#define TFTP_PORT	6969
#define TFTP_BLOCK	512

struct nic {
	const char *ifname;	/* the host net_device */
	const char *mac;	/* the guest's address */
	const char *host_ip;
	const char *guest_ip;
	char guest_if[IFNAMSIZ];	/* the guest's name for it */
};

static struct nic nics[] = {
	{ .ifname = "lkvmnt0", .mac = "02:6c:6b:76:65:02",
	  .host_ip = "169.254.101.1", .guest_ip = "169.254.101.2" },
	{ .ifname = "lkvmnt1", .mac = "02:6c:6b:76:66:02",
	  .host_ip = "169.254.102.1", .guest_ip = "169.254.102.2" },
};

/* The one guest, booted by main() and inherited by every test's process. */
static struct {
	char skip[512];		/* why every test skips */
	char fail[8192];	/* why there is no guest: every test fails with it */
	pid_t pid;		/* the launcher, a child of main() */
	int pidfd;		/* readable once it exited */
	int cmd;		/* the launcher's stdin: the guest's console input */
	char console[64];	/* the file the launcher's stdout goes to */
	char err[64];		/* and its stderr */
	char dead[64];		/* exists once the guest stopped answering */
	char kernel[256];
	char nic_line[2][256];	/* what the guest said of each NIC */
	long refcnt;		/* lkvm_lite's module refcount with no VM */
} guest = { .pid = -1, .pidfd = -1, .cmd = -1 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool launcher_gone(void)
{
	struct pollfd p = { .fd = guest.pidfd, .events = POLLIN };

	return guest.pidfd < 0 || poll(&p, 1, 0) > 0;
}

static bool wait_launcher_gone(int secs)
{
	struct pollfd p = { .fd = guest.pidfd, .events = POLLIN };

	return guest.pidfd < 0 || poll(&p, 1, secs * 1000) > 0;
}

/* The end of a file, for a failure message. */
static const char *file_tail(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	off_t size;
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	size = lseek(fd, 0, SEEK_END);
	n = pread(fd, buf, len - 1, size > (off_t)len - 1 ? size - (off_t)len + 1 : 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

/* ---- the guest's console ---- */

/* What one test has read of the console since it started. */
struct con {
	int fd;
	char *buf;
	size_t len;
};

static void con_open(struct con *c)
{
	c->fd = open(guest.console, O_RDONLY | O_CLOEXEC);
	if (c->fd >= 0)
		lseek(c->fd, 0, SEEK_END);
	c->buf = calloc(1, 1);
	c->len = 0;
}

static void con_close(struct con *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
}

static void con_read(struct con *c)
{
	char tmp[16384];
	ssize_t n;

	while (c->fd >= 0 && (n = read(c->fd, tmp, sizeof(tmp))) > 0) {
		c->buf = realloc(c->buf, c->len + n + 1);
		memcpy(c->buf + c->len, tmp, n);
		c->len += n;
		c->buf[c->len] = '\0';
	}
}

/*
 * The rest of the first complete line that holds "LKVM-GUEST-@tag" followed
 * by a space or the line's end (malloc'd), or NULL.
 */
static char *con_find(struct con *c, const char *tag)
{
	char pat[128];
	char *p, *rest, *nl;
	size_t n;

	snprintf(pat, sizeof(pat), "LKVM-GUEST-%s", tag);
	for (p = c->buf; (p = strstr(p, pat)); p++) {
		rest = p + strlen(pat);
		nl = strchr(rest, '\n');
		if (!nl)
			return NULL;
		if (*rest != ' ' && *rest != '\r' && *rest != '\n')
			continue;
		if (*rest == ' ')
			rest++;
		n = nl - rest;
		if (n && rest[n - 1] == '\r')
			n--;
		return strndup(rest, n);
	}
	return NULL;
}

/* con_find(), waiting up to @secs for the line; NULL if the launcher exited. */
static char *con_wait(struct con *c, const char *tag, int secs)
{
	double end = now_s() + secs;
	char *v;

	for (;;) {
		con_read(c);
		v = con_find(c, tag);
		if (v || now_s() > end || launcher_gone())
			break;
		usleep(20000);
	}
	if (!v) {
		usleep(50000);
		con_read(c);
		v = con_find(c, tag);
	}
	return v;
}

/* For a failure message: the end of what this test read, and of stderr. */
static const char *con_tail(struct con *c)
{
	static char msg[8192];
	char err[1024];
	size_t n;

	con_read(c);
	n = c->len > 4096 ? 4096 : c->len;
	snprintf(msg, sizeof(msg),
		 "--- console (last %zu bytes) ---\n%s\n--- launcher stderr ---\n%s",
		 n, c->buf + c->len - n, file_tail(guest.err, err, sizeof(err)));
	return msg;
}

/* ---- commands to the guest (guest-init's net_cmd) ---- */

static int cmd_seq;

/* Send the guest a command; @id gets the ID its answers carry. */
static void guest_cmd(char id[32], const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	/* Unique across the tests' processes, which share the console. */
	snprintf(id, 32, "%d.%d", getpid(), ++cmd_seq);
	n = snprintf(line, sizeof(line), "%s ", id);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	if (write(guest.cmd, line, n) != n)
		fprintf(stderr, "# writing to the guest's console: %s\n", strerror(errno));
}

/* The rest of command @id's "@key" answer (malloc'd), or NULL after @secs. */
static char *guest_val(struct con *c, const char *id, const char *key, int secs)
{
	char tag[96];

	snprintf(tag, sizeof(tag), "%s %s", id, key);
	return con_wait(c, tag, secs);
}

/* Command @id's exit status, -1 if it did not end within @secs. */
static int guest_end(struct con *c, const char *id, int secs)
{
	char *v = guest_val(c, id, "END", secs);
	int rc = v ? atoi(v) : -1;

	free(v);
	return rc;
}

/* An answer for EXPECT_STREQ(), which cannot take NULL. */
static const char *ans(const char *v)
{
	return v ? v : "(no answer)";
}

/* ---- the host side ---- */

/* Run a shell command; its output (stdout and stderr) in @out. */
static int sh(char *out, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	size_t n;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	f = popen(cmd, "r");
	if (!f) {
		snprintf(out, len, "popen: %s", strerror(errno));
		return -1;
	}
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

static long long read_num(const char *path)
{
	char buf[64] = "";
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoll(buf, NULL, 10) : -1;
}

/* A counter from /sys/class/net/@ifname/statistics, -1 if none. */
static long long netdev_stat(const char *ifname, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, name);
	return read_num(path);
}

static bool wait_netdev(const char *ifname, bool present, int secs)
{
	double end = now_s() + secs;

	while ((if_nametoindex(ifname) != 0) != present) {
		if (now_s() > end)
			return false;
		usleep(50000);
	}
	return true;
}

static long module_refcnt(void)
{
	return read_num("/sys/module/lkvm_lite/refcnt");
}

/* The host's busybox ping; "SENT RECEIVED" parsed out of its summary. */
static int host_ping(const char *ip, int count, int size, int *sent, int *got, char *out,
		     size_t len)
{
	const char *p;
	int rc;

	rc = sh(out, len, "busybox ping -c %d -s %d -i 0.2 -W 5 %s", count, size, ip);
	*sent = *got = -1;
	p = strstr(out, "packets transmitted");
	while (p && p > out && p[-1] != '\n')
		p--;
	if (p)
		sscanf(p, "%d packets transmitted, %d packets received", sent, got);
	return rc;
}

/* Pseudo-random bytes (xorshift64*), different for each @seed. */
static void fill_random(void *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1, v;
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i += sizeof(v)) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dULL;
		memcpy(p + i, &v, len - i < sizeof(v) ? len - i : sizeof(v));
	}
}

/* The SHA-256 of @buf in hex, by sha256sum as the guest computes it. */
static int sha256_hex(const void *buf, size_t len, char hex[65])
{
	char path[] = "/tmp/net_test-sha-XXXXXX";
	char out[256];
	int fd, rc;

	hex[0] = '\0';
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	rc = write(fd, buf, len) == (ssize_t)len ? 0 : -1;
	close(fd);
	if (!rc && sh(out, sizeof(out), "sha256sum %s", path) == 0 && sscanf(out, "%64s", hex) == 1)
		rc = 0;
	else
		rc = -1;
	unlink(path);
	return rc;
}

/* A guest's "sha256 HEX SIZE" answer. */
static bool parse_sum(const char *v, char hex[65], size_t *size)
{
	return v && sscanf(v, "%64s %zu", hex, size) == 2;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

static int tcp_listen(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	inet_pton(AF_INET, ip, &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&a, sizeof(a)) || listen(fd, 1)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connect to @ip:@port, retrying while nothing listens yet. */
static int tcp_connect(const char *ip, int port, int secs)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	double end = now_s() + secs;
	int fd;

	inet_pton(AF_INET, ip, &a.sin_addr);
	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (!connect(fd, (void *)&a, sizeof(a)))
			return fd;
		close(fd);
		if (errno != ECONNREFUSED || now_s() > end)
			return -1;
		usleep(100000);
	}
}

/* Read until EOF into @buf (at most @max bytes); -1 if @secs pass idle. */
static ssize_t recv_all(int fd, char *buf, size_t max, int secs)
{
	size_t got = 0;
	ssize_t n;

	while (got < max) {
		if (!readable(fd, secs * 1000))
			return -1;
		n = recv(fd, buf + got, max - got, 0);
		if (n < 0)
			return -1;
		if (!n)
			break;
		got += n;
	}
	return got;
}

static int send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * The guest sends @size random bytes over TCP to @nic's host address; what
 * came must be what it says it sent.
 */
static void tcp_guest_to_host(struct __test_metadata *_metadata, struct con *c,
			      const struct nic *nic, int port, size_t size)
{
	char id[32], hex[65], ghex[65];
	char *buf, *v;
	int lfd, fd;
	size_t gsize;
	ssize_t n;

	lfd = tcp_listen(nic->host_ip, port);
	ASSERT_LE(0, lfd) TH_LOG("listen on %s:%d: %s", nic->host_ip, port, strerror(errno));
	guest_cmd(id, "tcp-send %s %d %zu", nic->host_ip, port, size);
	v = guest_val(c, id, "sha256", 60);
	ASSERT_TRUE(parse_sum(v, ghex, &gsize)) TH_LOG("%s", con_tail(c));
	free(v);
	EXPECT_EQ(size, gsize);
	ASSERT_TRUE(readable(lfd, 30000)) TH_LOG("no connection from the guest\n%s", con_tail(c));
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	ASSERT_LE(0, fd);
	buf = malloc(size + 1);
	n = recv_all(fd, buf, size + 1, 30);
	close(fd);
	ASSERT_EQ((ssize_t)size, n) TH_LOG("%s", con_tail(c));
	ASSERT_EQ(0, sha256_hex(buf, n, hex));
	free(buf);
	EXPECT_STREQ(ghex, hex);
	EXPECT_EQ(0, guest_end(c, id, 30)) TH_LOG("%s", con_tail(c));
}

/* The host sends @size random bytes over TCP to the guest behind @nic. */
static void tcp_host_to_guest(struct __test_metadata *_metadata, struct con *c,
			      const struct nic *nic, int port, size_t size)
{
	char id[32], hex[65], ghex[65];
	char *buf, *v;
	size_t gsize;
	int fd;

	buf = malloc(size);
	fill_random(buf, size, port);
	ASSERT_EQ(0, sha256_hex(buf, size, hex));
	guest_cmd(id, "tcp-recv %d 120", port);
	v = guest_val(c, id, "listening", 30);
	ASSERT_NE(NULL, v) TH_LOG("%s", con_tail(c));
	free(v);
	fd = tcp_connect(nic->guest_ip, port, 10);
	ASSERT_LE(0, fd) TH_LOG("connect to %s:%d: %s", nic->guest_ip, port, strerror(errno));
	EXPECT_EQ(0, send_all(fd, buf, size)) TH_LOG("send: %s", strerror(errno));
	close(fd);
	free(buf);
	v = guest_val(c, id, "sha256", 90);
	ASSERT_TRUE(parse_sum(v, ghex, &gsize)) TH_LOG("%s", con_tail(c));
	free(v);
	EXPECT_EQ(size, gsize);
	EXPECT_STREQ(hex, ghex);
	EXPECT_EQ(0, guest_end(c, id, 10)) TH_LOG("%s", con_tail(c));
}

/*
 * A TFTP server (RFC 1350, no options) for one request: UDP both ways,
 * the guest being busybox's tftp client.
 */
struct tftp {
	int fd;
	const char *data;	/* served to a read request */
	size_t len;
	char *got;		/* what a write request brought */
	size_t got_len;
	int retransmits;
	char error[128];
};

enum { TFTP_RRQ = 1, TFTP_WRQ, TFTP_DATA, TFTP_ACK };

static void put16(unsigned char *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static unsigned int get16(const unsigned char *p)
{
	return p[0] << 8 | p[1];
}

static int tftp_send(struct tftp *t)
{
	unsigned char pkt[4 + TFTP_BLOCK], ack[64];
	unsigned int block, tries;
	size_t off, n;
	ssize_t r;

	for (block = 1;; block++) {
		off = (size_t)(block - 1) * TFTP_BLOCK;
		n = t->len - off < TFTP_BLOCK ? t->len - off : TFTP_BLOCK;
		put16(pkt, TFTP_DATA);
		put16(pkt + 2, block);
		memcpy(pkt + 4, t->data + off, n);
		for (tries = 0;; tries++) {
			if (tries == 10) {
				snprintf(t->error, sizeof(t->error), "no ACK of block %u", block);
				return -1;
			}
			if (tries)
				t->retransmits++;
			send(t->fd, pkt, 4 + n, 0);
			while (readable(t->fd, 1000)) {
				r = recv(t->fd, ack, sizeof(ack), 0);
				if (r >= 4 && get16(ack) == TFTP_ACK &&
				    get16(ack + 2) == (block & 0xffff))
					goto acked;
			}
		}
acked:
		if (n < TFTP_BLOCK)
			return 0;
	}
}

static int tftp_recv(struct tftp *t, size_t max)
{
	unsigned char pkt[4 + TFTP_BLOCK + 64], ack[4];
	unsigned int block = 0, tries = 0;
	ssize_t r;

	t->got = malloc(max);
	for (;;) {
		put16(ack, TFTP_ACK);
		put16(ack + 2, block);
		send(t->fd, ack, sizeof(ack), 0);
		if (!readable(t->fd, 1000)) {
			if (++tries == 10) {
				snprintf(t->error, sizeof(t->error), "no block %u", block + 1);
				return -1;
			}
			t->retransmits++;
			continue;
		}
		tries = 0;
		r = recv(t->fd, pkt, sizeof(pkt), 0);
		if (r < 4 || get16(pkt) != TFTP_DATA || get16(pkt + 2) != ((block + 1) & 0xffff))
			continue;
		r -= 4;
		if (t->got_len + r > max) {
			snprintf(t->error, sizeof(t->error), "more than %zu bytes", max);
			return -1;
		}
		memcpy(t->got + t->got_len, pkt + 4, r);
		t->got_len += r;
		block++;
		if (r < TFTP_BLOCK) {
			put16(ack + 2, block);
			send(t->fd, ack, sizeof(ack), 0);
			return 0;
		}
	}
}

/* Bind the server on @ip; tftp_serve() then answers the one request. */
static int tftp_open(struct tftp *t, const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TFTP_PORT) };

	memset(t, 0, sizeof(*t));
	inet_pton(AF_INET, ip, &a.sin_addr);
	t->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0 || bind(t->fd, (void *)&a, sizeof(a)))
		return -1;
	return 0;
}

static int tftp_serve(struct tftp *t, int want, size_t max)
{
	unsigned char req[600];
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	ssize_t n;

	if (!readable(t->fd, 60000)) {
		snprintf(t->error, sizeof(t->error), "no request");
		return -1;
	}
	n = recvfrom(t->fd, req, sizeof(req), 0, (void *)&peer, &plen);
	if (n < 4 || get16(req) != want) {
		snprintf(t->error, sizeof(t->error), "request of %zd bytes, opcode %u", n,
			 n >= 2 ? get16(req) : 0);
		return -1;
	}
	/* Our port serves as the transfer's: busybox takes the one that answers. */
	if (connect(t->fd, (void *)&peer, plen))
		return -1;
	return want == TFTP_RRQ ? tftp_send(t) : tftp_recv(t, max);
}

static void tftp_close(struct tftp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	free(t->got);
}

/* What a packet socket saw on a host net_device, both ways. */
struct frames {
	long in, out;
	long max_tcp_in, max_tcp_out;	/* the longest TCP frames */
	long mtu_echo_req_in, mtu_echo_req_out;	/* unfragmented, MTU_FRAME long */
	long mtu_echo_rep_in, mtu_echo_rep_out;
	long mtu_echo_req_no_df;	/* echo requests of MTU_FRAME without DF */
	long fragments;			/* IPv4 fragments */
};

struct capture {
	int fd;
	pthread_t thread;
	atomic_bool stop;
	struct frames f;
};

static void frame_count(struct frames *f, const unsigned char *p, size_t caplen, long len,
			bool out)
{
	unsigned int frag, ihl;
	long *max;

	if (out)
		f->out++;
	else
		f->in++;
	if (caplen < ETH_HLEN + 20 || get16(p + 12) != ETH_P_IP)
		return;
	p += ETH_HLEN;
	ihl = (p[0] & 0xf) * 4;
	frag = get16(p + 6);
	if (frag & (IP_MF | IP_OFFMASK)) {
		f->fragments++;
		return;
	}
	if (p[9] == IPPROTO_TCP) {
		max = out ? &f->max_tcp_out : &f->max_tcp_in;
		if (len > *max)
			*max = len;
	} else if (p[9] == IPPROTO_ICMP && caplen > ETH_HLEN + ihl && len == MTU_FRAME) {
		if (p[ihl] == 8) {
			(*(out ? &f->mtu_echo_req_out : &f->mtu_echo_req_in))++;
			if (!(frag & IP_DF))
				f->mtu_echo_req_no_df++;
		} else if (p[ihl] == 0) {
			(*(out ? &f->mtu_echo_rep_out : &f->mtu_echo_rep_in))++;
		}
	}
}

static void *capture_run(void *arg)
{
	struct capture *cap = arg;
	unsigned char buf[128];
	struct sockaddr_ll from;
	socklen_t flen;
	ssize_t n;

	while (!cap->stop) {
		flen = sizeof(from);
		/* MSG_TRUNC: the frame's whole length, however little is copied. */
		n = recvfrom(cap->fd, buf, sizeof(buf), MSG_TRUNC, (void *)&from, &flen);
		if (n > 0)
			frame_count(&cap->f, buf, n < (ssize_t)sizeof(buf) ? n : sizeof(buf), n,
				    from.sll_pkttype == PACKET_OUTGOING);
	}
	return NULL;
}

static int capture_start(struct capture *cap, const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = if_nametoindex(ifname) };
	struct timeval tv = { .tv_usec = 100000 };
	int rcvbuf = 8 * MIB;

	memset(cap, 0, sizeof(*cap));
	cap->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (cap->fd < 0)
		return -1;
	setsockopt(cap->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cap->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(cap->fd, (void *)&sll, sizeof(sll)) ||
	    pthread_create(&cap->thread, NULL, capture_run, cap)) {
		close(cap->fd);
		return -1;
	}
	return 0;
}

static void capture_stop(struct capture *cap)
{
	/* Frames still queued on the socket belong to what was captured. */
	usleep(200000);
	cap->stop = true;
	pthread_join(cap->thread, NULL);
	close(cap->fd);
}

/* Sends until told to stop or @limit bytes, for traffic under way. */
struct sender {
	int fd;
	const char *buf;
	size_t len;
	size_t limit;
	atomic_size_t sent;
	atomic_bool stop;
	pthread_t thread;
};

static void *sender_run(void *arg)
{
	struct sender *s = arg;
	size_t off, n;
	ssize_t r;

	while (!s->stop && s->sent < s->limit) {
		off = s->sent % s->len;
		n = s->len - off < 65536 ? s->len - off : 65536;
		r = send(s->fd, s->buf + off, n, MSG_NOSIGNAL);
		if (r > 0)
			s->sent += r;
		else if (r < 0 && errno != EAGAIN && errno != EINTR)
			break;
	}
	return NULL;
}

static int sender_start(struct sender *s, int fd, size_t limit)
{
	/* A send that cannot go on any more returns, so that stop is seen. */
	struct timeval tv = { .tv_usec = 200000 };
	char *buf = malloc(MIB);

	memset(s, 0, sizeof(*s));
	fill_random(buf, MIB, fd);
	s->fd = fd;
	s->buf = buf;
	s->len = MIB;
	s->limit = limit;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return pthread_create(&s->thread, NULL, sender_run, s);
}

static bool sender_wait(struct sender *s, size_t bytes, int secs)
{
	double end = now_s() + secs;

	while (s->sent < bytes && now_s() < end)
		usleep(10000);
	return s->sent >= bytes;
}

static void sender_stop(struct sender *s)
{
	s->stop = true;
	pthread_join(s->thread, NULL);
	free((char *)s->buf);
	close(s->fd);
}

/* A number in lkvm-lite stat's JSON: the value of "@key", -1 if absent. */
static long long json_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;
	char *end;
	long long v;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(json, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (*p++ != ':')
		return -1;
	v = strtoll(p, &end, 10);
	return end == p ? -1 : v;
}

static int vm_stat(char *json, size_t len)
{
	return sh(json, len, "%s stat %d --json", LAUNCHER, guest.pid);
}

/* ---- booting the guest ---- */

static void guest_stop(void)
{
	int status;

	if (guest.pid <= 0)
		return;
	if (!launcher_gone() && guest.cmd >= 0 && write(guest.cmd, "x poweroff\n", 11) == 11)
		wait_launcher_gone(15);
	if (!launcher_gone()) {
		char err[2048];

		/* SIGTERM: the launcher says where the guest was. */
		kill(guest.pid, SIGTERM);
		if (!wait_launcher_gone(5))
			kill(guest.pid, SIGKILL);
		wait_launcher_gone(5);
		fprintf(stderr, "# the guest did not power off; the launcher's stderr ends:\n%s\n",
			file_tail(guest.err, err, sizeof(err)));
	}
	waitpid(guest.pid, &status, 0);
	guest.pid = -1;
	if (guest.pidfd >= 0)
		close(guest.pidfd);
	if (guest.cmd >= 0)
		close(guest.cmd);
	guest.pidfd = -1;
	guest.cmd = -1;
}

static void fail(const char *fmt, ...)
{
	char err[2048], con[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(guest.fail, sizeof(guest.fail), fmt, ap);
	va_end(ap);
	if (n < (int)sizeof(guest.fail))
		snprintf(guest.fail + n, sizeof(guest.fail) - n,
			 "\n--- console (end) ---\n%s\n--- launcher stderr ---\n%s",
			 file_tail(guest.console, con, sizeof(con)),
			 file_tail(guest.err, err, sizeof(err)));
}

/* The host end of a NIC: link-local, and no IPv6 to muddle its counters. */
static int host_nic_up(const struct nic *nic)
{
	char path[128], out[512];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", nic->ifname);
	write_file(path, "1");
	if (sh(out, sizeof(out), "ip addr add %s/24 dev %s && ip link set dev %s up",
	       nic->host_ip, nic->ifname, nic->ifname)) {
		fail("setting up %s: %s", nic->ifname, out);
		return -1;
	}
	return 0;
}

/* Boot the guest: 0 when it is ready, 1 if the boot hung, -1 on failure. */
static int guest_start(void)
{
	char net[128], params[256], nicarg[2][64];
	char *argv[] = { LAUNCHER, "run", "-k", guest.kernel, "-i", GUEST_INITRD, "-m", "256M",
			 "-n", nicarg[0], "-n", nicarg[1], "-p", params, NULL };
	int in[2], out, err, i;
	struct con c;
	char *v;

	for (i = 0; i < 2; i++)
		snprintf(nicarg[i], sizeof(nicarg[i]), "ifname=%s,mac=%s", nics[i].ifname,
			 nics[i].mac);
	snprintf(net, sizeof(net), "%s@%s/24,%s@%s/24", nics[0].mac, nics[0].guest_ip,
		 nics[1].mac, nics[1].guest_ip);
	snprintf(params, sizeof(params), "lkvm.test=net lkvm.net=%s", net);
	out = open(guest.console, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	err = open(guest.err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0 || err < 0 || pipe2(in, O_CLOEXEC)) {
		fail("console files: %s", strerror(errno));
		return -1;
	}
	guest.pid = fork();
	if (!guest.pid) {
		dup2(in[0], 0);
		dup2(out, 1);
		dup2(err, 2);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out);
	close(err);
	guest.cmd = in[1];
	guest.pidfd = syscall(SYS_pidfd_open, guest.pid, 0);
	if (guest.pid < 0 || guest.pidfd < 0) {
		fail("starting the launcher: %s", strerror(errno));
		return -1;
	}

	/* The host ends exist before the guest runs; up, they give it a link. */
	for (i = 0; i < 2; i++) {
		if (!wait_netdev(nics[i].ifname, true, 10)) {
			fail("the launcher made no %s", nics[i].ifname);
			return -1;
		}
		if (host_nic_up(&nics[i]))
			return -1;
	}

	con_open(&c);
	lseek(c.fd, 0, SEEK_SET);
	v = con_wait(&c, "NET-READY", BOOT_TIMEOUT_S);
	if (!v) {
		char *why = con_find(&c, "NET-FAIL");

		con_close(&c);
		if (why) {
			fail("the guest's NICs: %s", why);
			free(why);
			return -1;
		}
		if (launcher_gone()) {
			fail("the launcher exited during the boot");
			return -1;
		}
		return 1;
	}
	free(v);
	for (i = 0; i < 2; i++) {
		char line[256], name[IFNAMSIZ], mac[32];
		const char *p;

		/* "NIC IFNAME MAC ...": find this NIC's by its MAC. */
		for (p = c.buf; (p = strstr(p, "LKVM-GUEST-NIC ")); p++) {
			snprintf(line, sizeof(line), "%.*s", (int)strcspn(p + 15, "\r\n"), p + 15);
			if (sscanf(line, "%15s %31s", name, mac) == 2 &&
			    !strcmp(mac, nics[i].mac)) {
				strcpy(guest.nic_line[i], line);
				strcpy(nics[i].guest_if, name);
				break;
			}
		}
		if (!nics[i].guest_if[0]) {
			con_close(&c);
			fail("the guest reported no NIC with MAC %s", nics[i].mac);
			return -1;
		}
	}
	con_close(&c);
	return 0;
}

static void guest_boot(void)
{
	struct lkvm_cap cap = { .cap = LKVM_CAP_NET };
	struct utsname u;
	int dev, i, r;

	dev = open("/dev/lkvm_lite", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		snprintf(guest.skip, sizeof(guest.skip), "lkvm_lite is not loaded");
		return;
	}
	r = ioctl(dev, LKVM_CHECK_CAP, &cap);
	close(dev);
	if (r || cap.value < 2) {
		snprintf(guest.skip, sizeof(guest.skip), "LKVM_CAP_NET is %llu: no two NICs per VM",
			 (unsigned long long)cap.value);
		return;
	}
	uname(&u);
	snprintf(guest.kernel, sizeof(guest.kernel), "/boot/vmlinuz-%s", u.release);
	if (access(guest.kernel, R_OK)) {
		snprintf(guest.skip, sizeof(guest.skip), "no readable %s to boot", guest.kernel);
		return;
	}
	if (access(LAUNCHER, X_OK) || access(GUEST_INITRD, R_OK)) {
		fail("%s or %s is missing", LAUNCHER, GUEST_INITRD);
		return;
	}
	for (i = 0; i < 2; i++) {
		if (if_nametoindex(nics[i].ifname)) {
			fail("%s exists before the guest did", nics[i].ifname);
			return;
		}
	}
	guest.refcnt = module_refcnt();
	snprintf(guest.console, sizeof(guest.console), "/tmp/net_test-%d.console", getpid());
	snprintf(guest.err, sizeof(guest.err), "/tmp/net_test-%d.stderr", getpid());
	snprintf(guest.dead, sizeof(guest.dead), "/tmp/net_test-%d.dead", getpid());
	fprintf(stderr, "# booting %s with two NICs\n", guest.kernel);
	r = guest_start();
	if (r == 1) {
		char con[300];

		/* As boot_test: an early stall under TCG, about one boot in twenty. */
		fprintf(stderr, "# the boot hung (%d s); console tail: %s\n# booting again\n",
			BOOT_TIMEOUT_S, file_tail(guest.console, con, sizeof(con)));
		guest_stop();
		for (i = 0; i < 2; i++)
			wait_netdev(nics[i].ifname, false, 10);
		r = guest_start();
		if (r == 1)
			fail("the boot hung twice (%d s each)", BOOT_TIMEOUT_S);
	}
	if (!r)
		fprintf(stderr, "# the guest is up: %s; %s\n", guest.nic_line[0],
			guest.nic_line[1]);
}

/*
 * Every test needs the guest; its absence is a skip or everyone's failure.
 * (A skip in FIXTURE_SETUP would not stop the test in this harness.)
 */
static bool need_guest(struct __test_metadata *_metadata, struct con *c)
{
	char id[32], *v;

	if (guest.skip[0])
		SKIP(return false, "%s", guest.skip);
	ASSERT_TRUE(!guest.fail[0]) TH_LOG("%s", guest.fail);
	ASSERT_FALSE(launcher_gone()) TH_LOG("the launcher exited\n%s", con_tail(c));
	/* A guest that stopped answering fails the rest at once, not by timeouts. */
	ASSERT_NE(0, access(guest.dead, F_OK)) TH_LOG("the guest stopped answering earlier");
	guest_cmd(id, "link lo");
	v = guest_val(c, id, "link", 15);
	if (!v)
		close(open(guest.dead, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	ASSERT_NE(NULL, v) TH_LOG("the guest does not answer its console\n%s", con_tail(c));
	free(v);
	guest_end(c, id, 5);
	return true;
}

FIXTURE(net) {
	struct con con;
};

FIXTURE_SETUP(net)
{
	con_open(&self->con);
}

FIXTURE_TEARDOWN(net)
{
	con_close(&self->con);
}

/* virtio_net bound to both functions, at the slots LKVM_CREATE_NET gives. */
TEST_F_TIMEOUT(net, guest_nics_bound_and_up, 30)
{
	char name[IFNAMSIZ], mac[32], addr[32], drv[32], pci[32], vendor[16], device[16], oper[16];
	static const char *const slots[] = { "0000:00:01.0", "0000:00:02.0" };
	char want[32];
	int i, n;

	if (!need_guest(_metadata, &self->con))
		return;
	for (i = 0; i < 2; i++) {
		n = sscanf(guest.nic_line[i], "%15s %31s %31s %31s %31s %15s %15s %15s", name, mac,
			   addr, drv, pci, vendor, device, oper);
		ASSERT_EQ(8, n) TH_LOG("guest: NIC %s", guest.nic_line[i]);
		snprintf(want, sizeof(want), "%s/24", nics[i].guest_ip);
		EXPECT_STREQ(want, addr);
		EXPECT_STREQ("virtio_net", drv);
		EXPECT_STREQ(slots[i], pci);
		EXPECT_STREQ("0x1af4", vendor);
		EXPECT_STREQ("0x1041", device);
		EXPECT_STREQ("up", oper) TH_LOG("guest: NIC %s", guest.nic_line[i]);
	}
}

/* busybox ping each way; every echo answered, the host counting them. */
TEST_F_TIMEOUT(net, ping_both_ways, 60)
{
	const struct nic *nic = &nics[0];
	long long rx0, tx0, rx1, tx1;
	int sent, got;
	char id[32], out[4096], *v;

	if (!need_guest(_metadata, &self->con))
		return;
	rx0 = netdev_stat(nic->ifname, "rx_packets");
	tx0 = netdev_stat(nic->ifname, "tx_packets");
	guest_cmd(id, "ping %s 10 56", nic->host_ip);
	v = guest_val(&self->con, id, "ping", 30);
	ASSERT_NE(NULL, v) TH_LOG("%s", con_tail(&self->con));
	EXPECT_STREQ("10 10", ans(v)) TH_LOG("guest ping: sent, received");
	free(v);
	EXPECT_EQ(0, guest_end(&self->con, id, 5));

	host_ping(nic->guest_ip, 10, 56, &sent, &got, out, sizeof(out));
	EXPECT_EQ(10, sent) TH_LOG("%s", out);
	EXPECT_EQ(10, got) TH_LOG("%s", out);
	/* 10 requests and 10 replies each way through the host net_device. */
	rx1 = netdev_stat(nic->ifname, "rx_packets");
	tx1 = netdev_stat(nic->ifname, "tx_packets");
	EXPECT_LE(rx0 + 20, rx1);
	EXPECT_LE(tx0 + 20, tx1);
}

TEST_F_TIMEOUT(net, tcp_guest_to_host, 120)
{
	if (!need_guest(_metadata, &self->con))
		return;
	tcp_guest_to_host(_metadata, &self->con, &nics[0], 5001, TCP_SIZE);
}

TEST_F_TIMEOUT(net, tcp_host_to_guest, 120)
{
	if (!need_guest(_metadata, &self->con))
		return;
	tcp_host_to_guest(_metadata, &self->con, &nics[0], 5002, TCP_SIZE);
}

/* TFTP: UDP datagrams in lock step, the guest's tftp putting a file. */
TEST_F_TIMEOUT(net, udp_guest_to_host, 90)
{
	const struct nic *nic = &nics[0];
	char id[32], hex[65], ghex[65] = "", *v;
	struct tftp t;
	size_t gsize;

	if (!need_guest(_metadata, &self->con))
		return;
	ASSERT_EQ(0, tftp_open(&t, nic->host_ip)) TH_LOG("bind: %s", strerror(errno));
	guest_cmd(id, "tftp-put %s %d up.bin %d", nic->host_ip, TFTP_PORT, UDP_SIZE);
	EXPECT_EQ(0, tftp_serve(&t, TFTP_WRQ, UDP_SIZE + 1))
		TH_LOG("tftp: %s after %zu bytes\n%s", t.error, t.got_len, con_tail(&self->con));
	v = guest_val(&self->con, id, "sha256", 30);
	EXPECT_TRUE(parse_sum(v, ghex, &gsize)) TH_LOG("%s", con_tail(&self->con));
	free(v);
	EXPECT_EQ(0, guest_end(&self->con, id, 30)) TH_LOG("%s", con_tail(&self->con));
	EXPECT_EQ(UDP_SIZE, gsize);
	EXPECT_EQ(UDP_SIZE, t.got_len);
	ASSERT_EQ(0, sha256_hex(t.got, t.got_len, hex));
	EXPECT_STREQ(ghex, hex);
	TH_LOG("%d retransmissions", t.retransmits);
	tftp_close(&t);
}

TEST_F_TIMEOUT(net, udp_host_to_guest, 90)
{
	const struct nic *nic = &nics[0];
	char id[32], hex[65], ghex[65] = "", *v, *buf;
	struct tftp t;
	size_t gsize;

	if (!need_guest(_metadata, &self->con))
		return;
	buf = malloc(UDP_SIZE);
	fill_random(buf, UDP_SIZE, TFTP_PORT);
	ASSERT_EQ(0, sha256_hex(buf, UDP_SIZE, hex));
	ASSERT_EQ(0, tftp_open(&t, nic->host_ip)) TH_LOG("bind: %s", strerror(errno));
	t.data = buf;
	t.len = UDP_SIZE;
	guest_cmd(id, "tftp-get %s %d down.bin", nic->host_ip, TFTP_PORT);
	EXPECT_EQ(0, tftp_serve(&t, TFTP_RRQ, 0))
		TH_LOG("tftp: %s\n%s", t.error, con_tail(&self->con));
	v = guest_val(&self->con, id, "sha256", 30);
	EXPECT_TRUE(parse_sum(v, ghex, &gsize)) TH_LOG("%s", con_tail(&self->con));
	free(v);
	EXPECT_EQ(0, guest_end(&self->con, id, 30)) TH_LOG("%s", con_tail(&self->con));
	EXPECT_EQ(UDP_SIZE, gsize);
	EXPECT_STREQ(hex, ghex);
	TH_LOG("%d retransmissions", t.retransmits);
	tftp_close(&t);
	free(buf);
}

/*
 * Echoes that fill the MTU exactly, each way: whole 1514-byte frames, the
 * requests with DF, and not one fragment on the wire.
 */
TEST_F_TIMEOUT(net, mtu_frames_unfragmented, 60)
{
	const struct nic *nic = &nics[0];
	struct capture cap;
	int sent, got;
	char id[32], out[4096], *v;

	if (!need_guest(_metadata, &self->con))
		return;
	ASSERT_EQ(0, capture_start(&cap, nic->ifname)) TH_LOG("packet socket: %s", strerror(errno));
	guest_cmd(id, "ping %s 5 %d", nic->host_ip, PING_MTU_DATA);
	v = guest_val(&self->con, id, "ping", 30);
	EXPECT_STREQ("5 5", ans(v)) TH_LOG("guest ping: sent, received\n%s", con_tail(&self->con));
	free(v);
	guest_end(&self->con, id, 5);
	host_ping(nic->guest_ip, 5, PING_MTU_DATA, &sent, &got, out, sizeof(out));
	capture_stop(&cap);
	EXPECT_EQ(5, got) TH_LOG("%s", out);
	EXPECT_EQ(5, cap.f.mtu_echo_req_in);
	EXPECT_EQ(5, cap.f.mtu_echo_rep_out);
	EXPECT_EQ(5, cap.f.mtu_echo_req_out);
	EXPECT_EQ(5, cap.f.mtu_echo_rep_in);
	EXPECT_EQ(0, cap.f.mtu_echo_req_no_df);
	EXPECT_EQ(0, cap.f.fragments);
}

/*
 * TSO both ways: during a TCP transfer from the guest, its frames reach the
 * host net_device longer than the MTU (the device passes the guest's GSO
 * packets on whole); the host's go out to the device as long (it takes
 * GSO packets, for the guest's mergeable buffers). The bytes stay right.
 */
TEST_F_TIMEOUT(net, gso_frames_beyond_mtu, 200)
{
	const struct nic *nic = &nics[0];
	struct capture cap;
	int i;

	if (!need_guest(_metadata, &self->con))
		return;
	ASSERT_EQ(0, capture_start(&cap, nic->ifname)) TH_LOG("packet socket: %s", strerror(errno));
	/*
	 * TCP sizes its TSO frames by its pacing rate: a guest slowed down
	 * by a busy test VM may send a whole transfer one MSS at a time. A
	 * few transfers give it the chance to go fast enough.
	 */
	for (i = 0; i < 3 && __atomic_load_n(&cap.f.max_tcp_in, __ATOMIC_RELAXED) <= MTU_FRAME;
	     i++)
		tcp_guest_to_host(_metadata, &self->con, nic, 5010 + i, 4 * MIB);
	tcp_host_to_guest(_metadata, &self->con, nic, 5004, 2 * MIB);
	capture_stop(&cap);
	TH_LOG("longest TCP frames: %ld from the guest, %ld to it", cap.f.max_tcp_in,
	       cap.f.max_tcp_out);
	EXPECT_LT(MTU_FRAME, cap.f.max_tcp_in);
	EXPECT_LT(MTU_FRAME, cap.f.max_tcp_out);
	EXPECT_EQ(0, cap.f.fragments);
}

/* Traffic on one NIC is counted by its host net_device, not the other's. */
TEST_F_TIMEOUT(net, two_nics_count_their_own, 120)
{
	long long rx[2][2], bytes[2][2];
	char id[32], *v;
	int i, j;

	if (!need_guest(_metadata, &self->con))
		return;
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 2; j++)
			rx[0][j] = netdev_stat(nics[j].ifname, "rx_packets");
		guest_cmd(id, "ping %s 10 56", nics[i].host_ip);
		v = guest_val(&self->con, id, "ping", 30);
		EXPECT_STREQ("10 10", ans(v)) TH_LOG("guest ping over %s", nics[i].guest_if);
		free(v);
		guest_end(&self->con, id, 5);
		for (j = 0; j < 2; j++)
			rx[1][j] = netdev_stat(nics[j].ifname, "rx_packets");
		EXPECT_LE(rx[0][i] + 10, rx[1][i]);
		/* Nothing but perhaps an ARP probe crossed the other one. */
		EXPECT_GE(rx[0][!i] + 2, rx[1][!i])
			TH_LOG("%s during pings over %s", nics[!i].ifname, nics[i].ifname);
	}
	for (j = 0; j < 2; j++)
		bytes[0][j] = netdev_stat(nics[j].ifname, "rx_bytes");
	tcp_guest_to_host(_metadata, &self->con, &nics[1], 5005, MIB);
	for (j = 0; j < 2; j++)
		bytes[1][j] = netdev_stat(nics[j].ifname, "rx_bytes");
	EXPECT_LE(bytes[0][1] + MIB, bytes[1][1]);
	EXPECT_GE(bytes[0][0] + 1024, bytes[1][0]);
	tcp_host_to_guest(_metadata, &self->con, &nics[1], 5006, MIB);
}

/*
 * lkvm-lite stat reads the VM's counters while traffic runs: not one
 * return to userspace since the VM began, boot and every test above
 * included, while the NIC carried the frames.
 */
TEST_F_TIMEOUT(net, no_userspace_exits_during_traffic, 120)
{
	static const char *const keys[] = { "userspace_exits", "net_rx_packets", "net_rx_bytes",
					     "net_tx_packets", "net_irqs" };
	long long v[3][ARRAY_SIZE(keys)];
	char json[3][16384], id[32], *s;
	struct sender snd;
	unsigned int i, k;
	int fd;

	if (!need_guest(_metadata, &self->con))
		return;
	ASSERT_EQ(0, vm_stat(json[0], sizeof(json[0]))) TH_LOG("%s", json[0]);
	guest_cmd(id, "tcp-recv 5007 120");
	s = guest_val(&self->con, id, "listening", 30);
	ASSERT_NE(NULL, s) TH_LOG("%s", con_tail(&self->con));
	free(s);
	fd = tcp_connect(nics[0].guest_ip, 5007, 10);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sender_start(&snd, fd, 4 * MIB));
	EXPECT_TRUE(sender_wait(&snd, 2 * MIB, 60));
	EXPECT_EQ(0, vm_stat(json[1], sizeof(json[1]))) TH_LOG("%s", json[1]);
	EXPECT_TRUE(sender_wait(&snd, 4 * MIB, 60));
	sender_stop(&snd);
	s = guest_val(&self->con, id, "END", 60);
	EXPECT_STREQ("0", ans(s)) TH_LOG("%s", con_tail(&self->con));
	free(s);
	ASSERT_EQ(0, vm_stat(json[2], sizeof(json[2]))) TH_LOG("%s", json[2]);
	for (i = 0; i < 3; i++) {
		for (k = 0; k < ARRAY_SIZE(keys); k++) {
			v[i][k] = json_num(json[i], keys[k]);
			EXPECT_LE(0, v[i][k]) TH_LOG("no \"%s\" in %s", keys[k], json[i]);
		}
		EXPECT_EQ(0, v[i][0]) TH_LOG("userspace exits: %s", json[i]);
	}
	/* 4 MiB to the guest, in frames; its ACKs back; interrupts for them. */
	EXPECT_LE(v[0][2] + 4 * MIB, v[2][2]) TH_LOG("%s\n%s", json[0], json[2]);
	EXPECT_LT(v[0][1], v[1][1]);
	EXPECT_LT(v[1][1], v[2][1]);
	EXPECT_LT(v[0][3], v[2][3]);
	EXPECT_LT(v[0][4], v[2][4]);
}

/* The guest's view of its link, "OPERSTATE CARRIER". */
static char *guest_link(struct con *c, const char *ifname)
{
	char id[32], *v;

	guest_cmd(id, "link %s", ifname);
	v = guest_val(c, id, "link", 10);
	guest_end(c, id, 5);
	return v;
}

/*
 * ip link del of a NIC's host net_device while the host sends to the guest
 * through it: the interface goes, the guest's link goes down, the other
 * NIC carries on.
 */
TEST_F_TIMEOUT(net, netdev_deleted_mid_traffic, 90)
{
	const struct nic *nic = &nics[1];
	char id[32], stop[32], out[1024], *v = NULL;
	struct sender snd;
	double end;
	int fd;

	if (!need_guest(_metadata, &self->con))
		return;
	guest_cmd(id, "tcp-recv 5008 120");
	v = guest_val(&self->con, id, "listening", 30);
	ASSERT_NE(NULL, v) TH_LOG("%s", con_tail(&self->con));
	free(v);
	v = NULL;
	fd = tcp_connect(nic->guest_ip, 5008, 10);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sender_start(&snd, fd, 16 * MIB));
	EXPECT_TRUE(sender_wait(&snd, MIB, 60));
	EXPECT_EQ(0, sh(out, sizeof(out), "ip link del %s", nic->ifname)) TH_LOG("%s", out);
	EXPECT_TRUE(wait_netdev(nic->ifname, false, 10));
	EXPECT_GT(16 * MIB, snd.sent) TH_LOG("the transfer ended before the deletion");
	sender_stop(&snd);

	for (end = now_s() + 10;; usleep(200000)) {
		free(v);
		v = guest_link(&self->con, nic->guest_if);
		if (!v || !strcmp(v, "down 0") || now_s() > end)
			break;
	}
	EXPECT_STREQ("down 0", ans(v)) TH_LOG("guest %s: operstate, carrier", nic->guest_if);
	free(v);
	guest_cmd(stop, "stop 5008");
	guest_end(&self->con, stop, 10);
	EXPECT_LE(0, guest_end(&self->con, id, 10)) TH_LOG("tcp-recv did not end");

	guest_cmd(id, "ping %s 3 56", nics[0].host_ip);
	v = guest_val(&self->con, id, "ping", 30);
	EXPECT_STREQ("3 3", ans(v)) TH_LOG("guest ping over %s", nics[0].guest_if);
	free(v);
	guest_end(&self->con, id, 5);
}

/* Nothing the guest's kernel logged, traffic and link loss included, is a complaint. */
TEST_F_TIMEOUT(net, guest_kernel_log_clean, 30)
{
	char id[32], *v;

	if (!need_guest(_metadata, &self->con))
		return;
	guest_cmd(id, "dmesg");
	v = guest_val(&self->con, id, "complaints", 10);
	EXPECT_STREQ("0", ans(v)) TH_LOG("%s", con_tail(&self->con));
	free(v);
	guest_end(&self->con, id, 5);
}

/*
 * SIGKILL to the launcher while the host sends to the guest: the launcher
 * goes, its NICs' host ends go, the module is left as the VM found it,
 * and a new VM can have NICs of the same names at once.
 */
TEST_F_TIMEOUT(net, launcher_killed_mid_traffic, 90)
{
	const struct nic *nic = &nics[0];
	struct lkvm_platform platform = { 0 };
	struct lkvm_net n[2];
	int dev, vm, con, fd, i;
	struct sender snd;
	char id[32], *v;
	double end;

	if (!need_guest(_metadata, &self->con))
		return;
	guest_cmd(id, "tcp-recv 5009 120");
	v = guest_val(&self->con, id, "listening", 30);
	ASSERT_NE(NULL, v) TH_LOG("%s", con_tail(&self->con));
	free(v);
	fd = tcp_connect(nic->guest_ip, 5009, 10);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sender_start(&snd, fd, 16 * MIB));
	EXPECT_TRUE(sender_wait(&snd, MIB, 60));
	ASSERT_EQ(0, kill(guest.pid, SIGKILL));
	EXPECT_TRUE(wait_launcher_gone(10));
	EXPECT_TRUE(wait_netdev(nic->ifname, false, 10));
	EXPECT_GT(16 * MIB, snd.sent) TH_LOG("the transfer ended before the kill");
	sender_stop(&snd);
	end = now_s() + 10;
	while (module_refcnt() != guest.refcnt && now_s() < end)
		usleep(50000);
	EXPECT_EQ(guest.refcnt, module_refcnt());

	dev = open("/dev/lkvm_lite", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	vm = ioctl(dev, LKVM_CREATE_VM, 0);
	ASSERT_LE(0, vm) TH_LOG("LKVM_CREATE_VM: %s", strerror(errno));
	con = ioctl(vm, LKVM_CREATE_PLATFORM, &platform);
	ASSERT_LE(0, con) TH_LOG("LKVM_CREATE_PLATFORM: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		memset(&n[i], 0, sizeof(n[i]));
		strcpy(n[i].ifname, nics[i].ifname);
		EXPECT_EQ(0, ioctl(vm, LKVM_CREATE_NET, &n[i]))
			TH_LOG("LKVM_CREATE_NET %s: %s", nics[i].ifname, strerror(errno));
		EXPECT_STREQ(nics[i].ifname, n[i].ifname);
		EXPECT_EQ(if_nametoindex(nics[i].ifname), n[i].ifindex);
	}
	close(con);
	close(vm);
	close(dev);
	for (i = 0; i < 2; i++) {
		const char *name = nics[i].ifname;

		EXPECT_TRUE(wait_netdev(name, false, 10)) TH_LOG("%s", name);
	}
}

int main(int argc, char **argv)
{
	int ret;

	guest_boot();
	ret = test_harness_run(argc, argv);
	guest_stop();
	if (guest.console[0]) {
		unlink(guest.console);
		unlink(guest.err);
		unlink(guest.dead);
	}
	return ret;
}
