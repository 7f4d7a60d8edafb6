// SPDX-License-Identifier: GPL-2.0
/*
 * lkvm-lite trace: every exit of every VM, by reason, with its latency,
 * from the module's tracepoints through BPF (trace.bpf.c).
 *
 * usage: lkvm-lite trace [--json] [-i SECONDS] [-o FILE] [-v] [-- COMMAND [ARGS...]]
 *
 * With a COMMAND, the programs are attached before it starts and the maps
 * read after it ends, so the totals hold every exit that happened while it
 * ran, in any VM on the machine: they are printed once, and the tool exits
 * with the command's status (128 + the signal if a signal killed it, 127 or
 * 126 if it could not be run, as the shell does; 1 if the tool failed).
 * Without one, the totals since the start are printed every -i seconds
 * (default 1) until SIGINT or SIGTERM. -o writes them to FILE instead of
 * stdout; -v shows libbpf's log.
 *
 * The latency of an exit is the time from it to its vCPU's next entry into
 * the guest: the handler, any work before the entry and, for a hlt, the
 * time the vCPU slept. Exits that return to userspace have none. An exit
 * is counted once it is done, at that entry or return to userspace: a
 * sleeping vCPU's hlt shows when it wakes. p50 and p99 are estimated from
 * a histogram of log2 buckets.
 *
 * --json prints one object a line, without spaces; fields may be added,
 * never changed:
 *
 *   {"vms":[{"vm":1,"pid":123,"userspace_exits":2,"signal_exits":0,
 *            "exits":[{"reason":"cpuid","code":114,"count":1000,
 *                      "latency_ns":{"samples":1000,"sum":31000000,"p50":24735,"p99":48332,
 *                                    "hist":[[16384,32767,980],[32768,65535,20]]}},
 *                     ...]},
 *           ...],
 *    "dropped":0}
 *
 * "vm" is the module's VM number, "pid" the process that ran it. Exits are
 * sorted by count, most first; "reason" is the name in <asm/svm.h>, or the
 * code in hex if it has none. "hist" lists the non-empty buckets as
 * [lowest, highest, count] in ns; "samples" counts the exits with a latency.
 * "dropped" counts events lost because a map was full (then a warning goes
 * to stderr too).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <asm/kvm.h>	/* the exception vectors SVM_EXIT_REASONS names */
#include <asm/svm.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "trace.h"
#include "trace.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char trace_usage[] =
	"usage: lkvm-lite trace [--json] [-i SECONDS] [-o FILE] [-v] [-- COMMAND [ARGS...]]\n"
	"\n"
	"Counts the exits of every VM by reason, with their latency (exit to the\n"
	"next entry), and the returns to userspace. Needs root.\n"
	"\n"
	"  COMMAND         run it, then print the totals of the exits while it ran,\n"
	"                  and exit with its status\n"
	"  -i SECONDS      without a COMMAND: print the totals so far every SECONDS\n"
	"                  (default 1) until interrupted\n"
	"  --json          one JSON object a line (the format is in trace.c)\n"
	"  -o, --output F  write to the file F instead of stdout\n"
	"  -v, --verbose   show libbpf's log\n";

static const struct {
	__u32 code;
	const char *name;
} svm_exit_names[] = { SVM_EXIT_REASONS };

struct trace_opts {
	bool json;
	bool verbose;
	double interval;
	const char *output;
	char **cmd;
};

struct exit_row {
	struct lkvm_trace_exit_key key;
	struct lkvm_trace_exit e;
};

struct vm_row {
	__u32 vm_id;
	struct lkvm_trace_vm v;
};

/* The maps as read at one time. */
struct snapshot {
	struct exit_row *exits;
	size_t nr_exits;
	struct vm_row *vms;
	size_t nr_vms;
	__u64 dropped;
	double time;			/* CLOCK_MONOTONIC, seconds */
};

static bool verbose;
/* The first BPF program libbpf complained about, for the error message. */
static char failed_prog[64];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[512];
	const char *p, *end;

	if (verbose)
		return vfprintf(stderr, fmt, ap);
	if (level != LIBBPF_WARN || failed_prog[0])
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	p = strstr(msg, "prog '");
	if (!p)
		return 0;
	p += strlen("prog '");
	end = strchr(p, '\'');
	if (end && end - p < (int)sizeof(failed_prog))
		memcpy(failed_prog, p, end - p);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *exit_name(__u32 code, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(svm_exit_names); i++)
		if (svm_exit_names[i].code == code)
			return svm_exit_names[i].name;
	snprintf(buf, len, "0x%x", code);
	return buf;
}

/* What the programs need, checked first so that the message can say what to do. */
static int check_system(void)
{
	if (access("/sys/module/lkvm_lite", F_OK)) {
		fprintf(stderr, "lkvm-lite trace: the lkvm_lite module is not loaded\n");
		return -1;
	}
	if (access("/sys/kernel/btf/vmlinux", F_OK)) {
		fprintf(stderr,
			"lkvm-lite trace: the kernel has no BTF (/sys/kernel/btf/vmlinux is missing):\n"
			"BPF needs root (CAP_BPF and CAP_PERFMON) and a kernel with BPF and BTF\n");
		return -1;
	}
	if (access("/sys/kernel/btf/lkvm_lite", F_OK)) {
		fprintf(stderr,
			"lkvm-lite trace: the lkvm_lite module has no BTF (/sys/kernel/btf/lkvm_lite\n"
			"is missing): load a module built with make module, which adds it with pahole,\n"
			"on a kernel with CONFIG_DEBUG_INFO_BTF_MODULES\n");
		return -1;
	}
	return 0;
}

/* @what failed: loading or attaching @prog, or, without one, @what as it is. */
static void bpf_failed(const char *what, const char *prog, int err)
{
	if (prog)
		fprintf(stderr, "lkvm-lite trace: %s BPF program '%s' failed: %s\n", what, prog,
			strerror(err));
	else
		fprintf(stderr, "lkvm-lite trace: %s failed: %s\n", what, strerror(err));
	fputs("BPF needs root (CAP_BPF and CAP_PERFMON) and a kernel with BPF and BTF", stderr);
	fputs(verbose ? "\n" : " (-v shows libbpf's log)\n", stderr);
}

/* The tracepoint a program attaches to, from its section "tp_btf/<name>". */
static const char *tracepoint_of(struct trace_bpf *skel, const char *prog_name)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, prog_name);
	const char *sec = prog ? bpf_program__section_name(prog) : NULL;

	return sec && strchr(sec, '/') ? strchr(sec, '/') + 1 : prog_name;
}

/* Attached one by one, so that a failure names its program. */
static struct trace_bpf *trace_attach(void)
{
	struct trace_bpf *skel;
	struct {
		struct bpf_program *prog;
		struct bpf_link **link;
	} order[2];
	size_t i;
	int err;

	skel = trace_bpf__open();
	if (!skel) {
		bpf_failed("opening the BPF object", NULL, errno);
		return NULL;
	}
	err = trace_bpf__load(skel);
	if (err) {
		/* libbpf found no btf_trace_<name> for the program to attach to. */
		if (err == -ESRCH && failed_prog[0])
			fprintf(stderr,
				"lkvm-lite trace: the lkvm_lite module has no tracepoint %s: is it older than this tool?\n",
				tracepoint_of(skel, failed_prog));
		else if (failed_prog[0])
			bpf_failed("loading", failed_prog, -err);
		else
			bpf_failed("loading the BPF programs", NULL, -err);
		goto out_destroy;
	}
	order[0].prog = skel->progs.lkvm_userspace_exit;
	order[0].link = &skel->links.lkvm_userspace_exit;
	order[1].prog = skel->progs.lkvm_entry;
	order[1].link = &skel->links.lkvm_entry;
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		*order[i].link = bpf_program__attach(order[i].prog);
		if (!*order[i].link) {
			err = -errno;
			bpf_failed("attaching", bpf_program__name(order[i].prog), -err);
			goto out_destroy;
		}
	}
	return skel;

out_destroy:
	trace_bpf__destroy(skel);
	return NULL;
}

static void snapshot_free(struct snapshot *s)
{
	free(s->exits);
	free(s->vms);
	memset(s, 0, sizeof(*s));
}

static int cmp_exit(const void *a, const void *b)
{
	const struct exit_row *x = a, *y = b;

	if (x->key.vm_id != y->key.vm_id)
		return x->key.vm_id < y->key.vm_id ? -1 : 1;
	if (x->e.count != y->e.count)
		return x->e.count > y->e.count ? -1 : 1;
	if (x->key.exit_code != y->key.exit_code)
		return x->key.exit_code < y->key.exit_code ? -1 : 1;
	return 0;
}

static int cmp_vm(const void *a, const void *b)
{
	const struct vm_row *x = a, *y = b;

	if (x->vm_id != y->vm_id)
		return x->vm_id < y->vm_id ? -1 : 1;
	return 0;
}

static struct vm_row *find_vm(struct snapshot *s, __u32 vm_id)
{
	size_t i;

	for (i = 0; i < s->nr_vms; i++)
		if (s->vms[i].vm_id == vm_id)
			return &s->vms[i];
	return NULL;
}

/* Grows *array of *nr elements of @size by one, zeroed; NULL if out of memory. */
static void *append(void *array, size_t *nr, size_t size)
{
	char *p = realloc(*(void **)array, (*nr + 1) * size);

	if (!p)
		return NULL;
	*(void **)array = p;
	memset(p + *nr * size, 0, size);
	return p + (*nr)++ * size;
}

static int read_exits(int fd, struct snapshot *s)
{
	struct lkvm_trace_exit_key key, next;
	struct exit_row *row;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		row = append(&s->exits, &s->nr_exits, sizeof(*row));
		if (!row)
			return -ENOMEM;
		row->key = next;
		if (bpf_map_lookup_elem(fd, &next, &row->e))
			return -errno;
		key = next;
		prev = &key;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int read_vms(int fd, struct snapshot *s)
{
	struct vm_row *row;
	__u32 key, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		row = append(&s->vms, &s->nr_vms, sizeof(*row));
		if (!row)
			return -ENOMEM;
		row->vm_id = next;
		if (bpf_map_lookup_elem(fd, &next, &row->v))
			return -errno;
		key = next;
		prev = &key;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int snapshot_read(struct trace_bpf *skel, struct snapshot *s)
{
	size_t i;
	int err;

	memset(s, 0, sizeof(*s));
	s->time = now();
	err = read_vms(bpf_map__fd(skel->maps.vms), s);
	if (!err)
		err = read_exits(bpf_map__fd(skel->maps.exits), s);
	if (err) {
		fprintf(stderr, "lkvm-lite trace: reading the BPF maps: %s\n", strerror(-err));
		snapshot_free(s);
		return -1;
	}
	s->dropped = skel->bss->dropped;
	/* A VM whose record did not fit still shows its exits. */
	for (i = 0; i < s->nr_exits; i++) {
		struct vm_row *vm;

		if (find_vm(s, s->exits[i].key.vm_id))
			continue;
		vm = append(&s->vms, &s->nr_vms, sizeof(*vm));
		if (!vm) {
			fprintf(stderr, "lkvm-lite trace: out of memory\n");
			snapshot_free(s);
			return -1;
		}
		vm->vm_id = s->exits[i].key.vm_id;
	}
	qsort(s->exits, s->nr_exits, sizeof(*s->exits), cmp_exit);
	qsort(s->vms, s->nr_vms, sizeof(*s->vms), cmp_vm);
	return 0;
}

static __u64 bucket_lo(unsigned int i)
{
	return i ? 1ULL << i : 0;
}

static __u64 bucket_hi(unsigned int i)
{
	return i == LKVM_TRACE_BUCKETS - 1 ? ULLONG_MAX : (2ULL << i) - 1;
}

/*
 * The @pct percentile in ns, estimated: the bucket it falls in, and within
 * it, the samples taken as evenly spread.
 */
static __u64 percentile(const struct lkvm_trace_exit *e, unsigned int pct)
{
	__u64 total = 0, rank, seen = 0;
	unsigned int i;

	/* Not lat_samples: it and the buckets are added to one after the other. */
	for (i = 0; i < LKVM_TRACE_BUCKETS; i++)
		total += e->hist[i];
	if (!total)
		return 0;
	/* One sample is known exactly: the sum. */
	if (total == 1 && e->lat_samples == 1)
		return e->lat_sum;
	rank = (total * pct + 99) / 100;
	for (i = 0; i < LKVM_TRACE_BUCKETS; i++) {
		__u64 c = e->hist[i];
		double width = (double)(bucket_hi(i) - bucket_lo(i)) + 1;

		if (c && seen + c >= rank)
			return bucket_lo(i) + (__u64)(width * (rank - seen - 0.5) / c);
		seen += c;
	}
	return bucket_hi(LKVM_TRACE_BUCKETS - 1);
}

static void print_json_exit(FILE *out, const struct exit_row *row)
{
	const struct lkvm_trace_exit *e = &row->e;
	const char *sep = "";
	unsigned int b;
	char buf[16];

	fprintf(out, "{\"reason\":\"%s\",\"code\":%u,\"count\":%llu,",
		exit_name(row->key.exit_code, buf, sizeof(buf)), row->key.exit_code,
		(unsigned long long)e->count);
	fprintf(out, "\"latency_ns\":{\"samples\":%llu,\"sum\":%llu,",
		(unsigned long long)e->lat_samples, (unsigned long long)e->lat_sum);
	fprintf(out, "\"p50\":%llu,\"p99\":%llu,\"hist\":[",
		(unsigned long long)percentile(e, 50), (unsigned long long)percentile(e, 99));
	for (b = 0; b < LKVM_TRACE_BUCKETS; b++) {
		if (!e->hist[b])
			continue;
		fprintf(out, "%s[%llu,%llu,%llu]", sep, (unsigned long long)bucket_lo(b),
			(unsigned long long)bucket_hi(b), (unsigned long long)e->hist[b]);
		sep = ",";
	}
	fputs("]}}", out);
}

static void print_json(FILE *out, const struct snapshot *s)
{
	const struct exit_row *row = s->exits, *end = s->exits + s->nr_exits;
	size_t i;

	fputs("{\"vms\":[", out);
	for (i = 0; i < s->nr_vms; i++) {
		const struct vm_row *vm = &s->vms[i];
		const char *sep = "";

		fprintf(out, "%s{\"vm\":%u,\"pid\":%u,", i ? "," : "", vm->vm_id, vm->v.pid);
		fprintf(out, "\"userspace_exits\":%llu,\"signal_exits\":%llu,\"exits\":[",
			(unsigned long long)vm->v.userspace_exits,
			(unsigned long long)vm->v.signal_exits);
		for (; row < end && row->key.vm_id == vm->vm_id; row++) {
			fputs(sep, out);
			print_json_exit(out, row);
			sep = ",";
		}
		fputs("]}", out);
	}
	fprintf(out, "],\"dropped\":%llu}\n", (unsigned long long)s->dropped);
}

static const char *fmt_ns(double ns, char *buf, size_t len)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
	return buf;
}

static __u64 prev_count(const struct snapshot *prev, const struct lkvm_trace_exit_key *key)
{
	size_t i;

	for (i = 0; i < prev->nr_exits; i++)
		if (prev->exits[i].key.vm_id == key->vm_id &&
		    prev->exits[i].key.exit_code == key->exit_code)
			return prev->exits[i].e.count;
	return 0;
}

/* One exit reason of one VM; with @prev, its rate since then. */
static void print_row(FILE *out, const struct exit_row *row, const struct snapshot *s,
		      const struct snapshot *prev)
{
	const struct lkvm_trace_exit *e = &row->e;
	char name[16], code[16], avg[16], p50[16], p99[16];

	snprintf(code, sizeof(code), "0x%x", row->key.exit_code);
	fprintf(out, "  %-20s %10s %12llu", exit_name(row->key.exit_code, name, sizeof(name)),
		code, (unsigned long long)e->count);
	if (prev)
		fprintf(out, " %10.0f",
			(e->count - prev_count(prev, &row->key)) / (s->time - prev->time));
	if (!e->lat_samples) {
		fprintf(out, " %10s %10s %10s\n", "-", "-", "-");
		return;
	}
	fprintf(out, " %10s %10s %10s\n",
		fmt_ns((double)e->lat_sum / e->lat_samples, avg, sizeof(avg)),
		fmt_ns(percentile(e, 50), p50, sizeof(p50)),
		fmt_ns(percentile(e, 99), p99, sizeof(p99)));
}

/*
 * One block: a header, then per VM a line and its exits. With @prev (the
 * live view), the time of day and a column of exits per second since @prev.
 */
static void print_table(FILE *out, const struct snapshot *s, const struct snapshot *prev,
			double start)
{
	const struct exit_row *row = s->exits, *end = s->exits + s->nr_exits;
	time_t t = time(NULL);
	char clock[16] = "";
	struct tm tm;
	size_t i;

	if (prev && localtime_r(&t, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S ", &tm);
	fprintf(out, "== %slkvm_lite exits in %.1f s ==\n", clock, s->time - start);
	if (!s->nr_vms)
		fputs("no VM ran\n", out);
	for (i = 0; i < s->nr_vms; i++) {
		const struct vm_row *vm = &s->vms[i];

		fprintf(out, "vm %u  pid %u  userspace exits %llu  signal exits %llu\n",
			vm->vm_id, vm->v.pid, (unsigned long long)vm->v.userspace_exits,
			(unsigned long long)vm->v.signal_exits);
		if (row == end || row->key.vm_id != vm->vm_id)
			continue;
		fprintf(out, "  %-20s %10s %12s", "reason", "code", "count");
		if (prev)
			fprintf(out, " %10s", "/s");
		fprintf(out, " %10s %10s %10s\n", "avg", "p50", "p99");
		for (; row < end && row->key.vm_id == vm->vm_id; row++)
			print_row(out, row, s, prev);
	}
	if (s->dropped)
		fprintf(out, "%llu events dropped: a map was full\n",
			(unsigned long long)s->dropped);
}

static int print_snapshot(FILE *out, const struct trace_opts *o, const struct snapshot *s,
			  const struct snapshot *prev, double start)
{
	if (o->json)
		print_json(out, s);
	else
		print_table(out, s, prev, start);
	if (s->dropped && (!prev || s->dropped != prev->dropped))
		fprintf(stderr,
			"lkvm-lite trace: %llu events dropped (a map was full): the counts are short\n",
			(unsigned long long)s->dropped);
	if (fflush(out) || ferror(out)) {
		fprintf(stderr, "lkvm-lite trace: writing to %s failed\n",
			o->output ? o->output : "stdout");
		return -1;
	}
	return 0;
}

/*
 * Runs the command and waits for it. The signals it is told to end with
 * reach it: a terminal's SIGINT and SIGQUIT went to it already, SIGTERM
 * and SIGHUP are passed on. Returns its status as the shell gives it, or
 * -1 if it could not be started.
 */
static int run_command(char **cmd)
{
	sigset_t set, old;
	int sig, status;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Not SIG_IGN, inherited: the command would be reaped unseen. */
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_BLOCK, &set, &old);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "lkvm-lite trace: fork: %s\n", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (!pid) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		int err;

		execvp(cmd[0], cmd);
		err = errno;
		fprintf(stderr, "lkvm-lite trace: cannot run %s: %s\n", cmd[0], strerror(err));
		_exit(err == ENOENT ? 127 : 126);
	}
	for (;;) {
		siginfo_t si;

		sig = sigwaitinfo(&set, &si);
		if (sig == SIGCHLD) {
			if (waitpid(pid, &status, WNOHANG) == pid)
				break;
		} else if (sig == SIGTERM || sig == SIGHUP || si.si_code <= 0) {
			/*
			 * A terminal's ^C or ^\ reaches the command too (SI_KERNEL);
			 * one sent to the tool alone (kill, SI_USER) is passed on.
			 */
			kill(pid, sig);
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int trace_command(const struct trace_opts *o, struct trace_bpf *skel, FILE *out)
{
	double start = now();
	struct snapshot s;
	int status;

	status = run_command(o->cmd);
	if (status < 0)
		return 1;
	if (snapshot_read(skel, &s))
		return 1;
	if (print_snapshot(out, o, &s, NULL, start))
		status = 1;
	snapshot_free(&s);
	return status;
}

/* Every interval a block, on a fixed beat, until SIGINT or SIGTERM. */
static int trace_live(const struct trace_opts *o, struct trace_bpf *skel, FILE *out)
{
	struct snapshot prev = { 0 }, s;
	double start = now(), next = start + o->interval, left;
	struct timespec timeout;
	sigset_t set;
	int ret = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	prev.time = start;
	for (;;) {
		left = next - now();
		if (left > 0) {
			timeout.tv_sec = (time_t)left;
			timeout.tv_nsec = (long)((left - timeout.tv_sec) * 1e9);
			if (sigtimedwait(&set, NULL, &timeout) > 0)
				break;
			if (errno != EAGAIN)
				continue;
		}
		if (snapshot_read(skel, &s)) {
			ret = 1;
			break;
		}
		if (print_snapshot(out, o, &s, &prev, start)) {
			snapshot_free(&s);
			ret = 1;
			break;
		}
		snapshot_free(&prev);
		prev = s;
		next += o->interval;
		/* Late (a stopped process, a slow terminal): no burst to catch up. */
		if (next < now())
			next = now() + o->interval;
	}
	snapshot_free(&prev);
	return ret;
}

static int parse_opts(int argc, char **argv, struct trace_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool interval = false;
	char *end;
	int c;

	opterr = 0;
	/* "+": the options end at the COMMAND, whose own options are its. */
	while ((c = getopt_long(argc, argv, "+:i:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'i':
			errno = 0;
			o->interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->interval >= 0.01) ||
			    o->interval > 86400) {
				fprintf(stderr,
					"lkvm-lite trace: -i wants seconds, 0.01 to 86400, not '%s'\n",
					optarg);
				return 2;
			}
			interval = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			fputs(trace_usage, stdout);
			return 0;
		case ':':
			if (optopt)
				fprintf(stderr, "lkvm-lite trace: -%c wants an argument\n", optopt);
			else
				fprintf(stderr, "lkvm-lite trace: %s wants an argument\n",
					argv[optind - 1]);
			fputs(trace_usage, stderr);
			return 2;
		default:
			if (optopt)
				fprintf(stderr, "lkvm-lite trace: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "lkvm-lite trace: unknown option %s\n",
					argv[optind - 1]);
			fputs(trace_usage, stderr);
			return 2;
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (o->cmd && interval) {
		fprintf(stderr, "lkvm-lite trace: -i is for the live view, without a COMMAND\n");
		return 2;
	}
	return -1;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_opts o = { .interval = 1 };
	struct trace_bpf *skel;
	FILE *out = stdout;
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret >= 0)
		return ret;
	verbose = o.verbose;
	libbpf_set_print(libbpf_print);
	if (check_system())
		return 1;
	skel = trace_attach();
	if (!skel)
		return 1;
	/* After BPF, whose failure says more; before the command, not after it ran. */
	if (o.output) {
		out = fopen(o.output, "we");
		if (!out) {
			fprintf(stderr, "lkvm-lite trace: cannot write %s: %s\n", o.output,
				strerror(errno));
			ret = 1;
			goto out_destroy;
		}
	}
	ret = o.cmd ? trace_command(&o, skel, out) : trace_live(&o, skel, out);
	if (out != stdout && fclose(out) && !ret) {
		fprintf(stderr, "lkvm-lite trace: writing %s: %s\n", o.output, strerror(errno));
		ret = 1;
	}
out_destroy:
	trace_bpf__destroy(skel);
	return ret;
}
