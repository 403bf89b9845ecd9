/*
 * aloft-init: PID 1 inside an aloft microVM.
 *
 * The initramfs's /init (a busybox script) has loaded the virtio modules, mounted /dev,
 * /proc, /sys and the image's ext4 root at /newroot, then exec'd us. We stay in the
 * initramfs (so busybox's `ip` is at hand and nothing is needed from the image) and put
 * every process we start into /newroot with chroot. We: mount the usual file systems in
 * the image root, read /aloft/run.conf, set hostname, /etc/hosts, /etc/resolv.conf, eth0
 * and volumes, start the main process as the image's user, forward signals, reap
 * zombies, serve exec/signal/ping over the virtio-serial port `aloft0`, report the exit,
 * then power off. The wire format is in ../PROTOCOL.md; the config in ../run-config.ts.
 *
 * Built static with `gcc -static -Os` (see ../init-binary.ts).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ROOT "/newroot"
#define BUSYBOX "/bin/busybox"
#define PORT_NAME "aloft0"
#define MAX_EXECS 16
#define MAX_STREAM (1 << 20)
#define MAX_LINE (16 << 20)
/* The Machine's processes (main, its children, execs) live in this cgroup v2: its
 * memory.max and pids.max are the Machine's limits, its memory.events tells an OOM kill. */
#define CGROOT "/sys/fs/cgroup"
#define CGROUP CGROOT "/machine"
/* After `exit`, how long to wait for the host's `poweroff` (its acknowledgement). */
#define EXIT_ACK_MS 30000

extern char **environ;

/* ---- small helpers ---- */

static void logf_(const char *fmt, ...) {
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
	buf[n++] = '\n';
	dprintf(2, "aloft-init: %.*s", n, buf);
}

static long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct { char *p; size_t len, cap; } buf_t;

static void buf_add(buf_t *b, const void *data, size_t n) {
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1) cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) { logf_("out of memory"); _exit(1); }
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
}
static void buf_str(buf_t *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_consume(buf_t *b, size_t n) {
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (b->p) b->p[b->len] = 0;
}

/* Keep in step with SAFE in ../line-codec.ts. */
static int safe_byte(unsigned char c) {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c != 0 && strchr("-_.~/:,=@+", c) != NULL);
}

/* Appends ` key=<percent-encoded value>`. */
static void put_field(buf_t *b, const char *key, const void *value, size_t n) {
	static const char hex[] = "0123456789ABCDEF";
	buf_str(b, " ");
	buf_str(b, key);
	buf_str(b, "=");
	const unsigned char *v = value;
	for (size_t i = 0; i < n; i++) {
		if (safe_byte(v[i])) buf_add(b, &v[i], 1);
		else { char e[3] = { '%', hex[v[i] >> 4], hex[v[i] & 15] }; buf_add(b, e, 3); }
	}
}
static void put_str(buf_t *b, const char *key, const char *value) { put_field(b, key, value, strlen(value)); }
static void put_int(buf_t *b, const char *key, long long v) { char s[32]; snprintf(s, sizeof s, "%lld", v); put_str(b, key, s); }

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Decodes %XX in place; returns the new length. */
static size_t decode(char *s) {
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) { *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2])); r += 2; }
		else *w++ = *r;
	}
	*w = 0;
	return (size_t)(w - s);
}

/* A growable NULL-terminated list of strings. */
typedef struct { char **v; int n, cap; } list_t;
static void list_add(list_t *l, char *s) {
	if (l->n + 2 > l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = realloc(l->v, sizeof(char *) * (size_t)l->cap);
		if (!l->v) { logf_("out of memory"); _exit(1); }
	}
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

/* Splits "a,b,c" of gids. */
static int parse_groups(const char *s, gid_t *out, int max) {
	int n = 0;
	while (s && *s && n < max) {
		out[n++] = (gid_t)strtoul(s, NULL, 10);
		s = strchr(s, ',');
		if (s) s++;
	}
	return n;
}

static void mkdir_p(const char *path, mode_t mode) {
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') { *p = 0; mkdir(tmp, mode); *p = '/'; }
	}
	mkdir(tmp, mode);
}

static int write_file(const char *path, const char *data) {
	unlink(path); /* a dangling symlink (resolv.conf) must not redirect us */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) return -1;
	size_t n = strlen(data);
	int ok = write(fd, data, n) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

/* ---- the run config ---- */

static struct {
	char *hostname, *workdir, *groups_s;
	uid_t uid;
	gid_t gid;
	list_t args, env, addrs, routes, nameservers, search, hosts, mounts;
	char *mtu;
	unsigned long long memory_mb, pids_max;
} cfg;

static int read_config(const char *path) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	buf_t b = {0};
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_add(&b, chunk, (size_t)n);
	close(fd);
	if (!b.p) return -1;
	cfg.workdir = "/";
	for (char *line = strtok(b.p, "\n"); line; line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');
		if (!eq) continue;
		*eq = 0;
		char *k = line, *v = eq + 1;
		decode(v);
		if (!strcmp(k, "hostname")) cfg.hostname = v;
		else if (!strcmp(k, "workdir")) cfg.workdir = v;
		else if (!strcmp(k, "uid")) cfg.uid = (uid_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "gid")) cfg.gid = (gid_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "groups")) cfg.groups_s = v;
		else if (!strcmp(k, "arg")) list_add(&cfg.args, v);
		else if (!strcmp(k, "env")) list_add(&cfg.env, v);
		else if (!strcmp(k, "addr")) list_add(&cfg.addrs, v);
		else if (!strcmp(k, "route")) list_add(&cfg.routes, v);
		else if (!strcmp(k, "nameserver")) list_add(&cfg.nameservers, v);
		else if (!strcmp(k, "search")) list_add(&cfg.search, v);
		else if (!strcmp(k, "host")) list_add(&cfg.hosts, v);
		else if (!strcmp(k, "mount")) list_add(&cfg.mounts, v);
		else if (!strcmp(k, "mtu")) cfg.mtu = v;
		else if (!strcmp(k, "memory_mb")) cfg.memory_mb = strtoull(v, NULL, 10);
		else if (!strcmp(k, "pids_max")) cfg.pids_max = strtoull(v, NULL, 10);
	}
	return cfg.args.n > 0 ? 0 : -2;
}

static const char *env_get(list_t *env, const char *key) {
	size_t kl = strlen(key);
	for (int i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], key, kl) && env->v[i][kl] == '=') return env->v[i] + kl + 1;
	return NULL;
}

/* ---- the channel to the host ---- */

static int port_fd = -1;
static long long port_retry_at; /* while the host is away, poll the port only now and then */
static buf_t out_q, in_q;

static void send_line(buf_t *msg) {
	buf_str(msg, "\n");
	buf_add(&out_q, msg->p, msg->len);
	free(msg->p);
	*msg = (buf_t){0};
}

static void open_port(void) {
	/* No udev here, so no /dev/virtio-ports/NAME: find the port by its sysfs name. The
	 * device may still be probing right after the module loaded, so look for up to 3 s. */
	for (int tries = 0; tries < 150 && port_fd < 0; tries++) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *e;
		while (d && (e = readdir(d)) && port_fd < 0) {
			if (e->d_name[0] == '.') continue;
			char path[512], name[64] = {0};
			snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) continue;
			ssize_t n = read(fd, name, sizeof name - 1);
			close(fd);
			if (n > 0 && name[n - 1] == '\n') name[n - 1] = 0;
			if (strcmp(name, PORT_NAME)) continue;
			snprintf(path, sizeof path, "/dev/%s", e->d_name);
			port_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		}
		if (d) closedir(d);
		if (port_fd < 0) nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	if (port_fd < 0) logf_("no virtio-serial port named %s: the host will not hear from us", PORT_NAME);
}

/* ---- processes ---- */

static int cg_procs_fd = -1; /* CGROUP/cgroup.procs, open for the children to join */

/* Runs argv inside ROOT as uid/gid, with env and cwd, stdout/stderr on the given fds.
 * Returns the pid; a failure before execve comes back through a close-on-exec pipe
 * into `err` (errmsg), and the child exits 127 (not found) or 126. */
static pid_t spawn_in_root(char **argv, char **envp, uid_t uid, gid_t gid, const char *groups, const char *cwd,
                           int out_fd, int err_fd, char *errmsg, size_t errlen) {
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) { snprintf(errmsg, errlen, "pipe: %s", strerror(errno)); return -1; }
	pid_t pid = fork();
	if (pid < 0) { snprintf(errmsg, errlen, "fork: %s", strerror(errno)); close(ep[0]); close(ep[1]); return -1; }
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		setsid();
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(out_fd, 1);
		dup2(err_fd, 2);
		if (nul > 2) close(nul);
		const char *stage = "join the machine's cgroup";
		gid_t gs[64];
		int ng = parse_groups(groups, gs, 64);
		/* "0" moves the writer: the child is limited before it runs anything of the image. */
		if (cg_procs_fd >= 0 && write(cg_procs_fd, "0", 1) != 1) goto fail;
		stage = "chroot";
		if (chroot(ROOT) < 0) goto fail;
		stage = "chdir to workdir";
		if (chdir(cwd && *cwd ? cwd : "/") < 0) goto fail;
		stage = "setgroups";
		if (setgroups((size_t)ng, gs) < 0) goto fail;
		stage = "setgid";
		if (setgid(gid) < 0) goto fail;
		stage = "setuid";
		if (setuid(uid) < 0) goto fail;
		stage = "exec";
		environ = envp; /* execvp searches the new PATH */
		execvp(argv[0], argv);
	fail:;
		int e = errno;
		dprintf(ep[1], "%s %s: %s", stage, !strcmp(stage, "exec") ? argv[0] : (cwd ? cwd : ""), strerror(e));
		_exit(!strcmp(stage, "exec") && (e == ENOENT || e == ENOTDIR) ? 127 : 126);
	}
	close(ep[1]);
	ssize_t n = read(ep[0], errmsg, errlen - 1); /* EOF (0) once execve succeeded */
	close(ep[0]);
	errmsg[n > 0 ? n : 0] = 0;
	return pid;
}

/* Runs busybox (outside the image root) and waits: network setup only. */
static int run_busybox(const char *const *argv) {
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execv(BUSYBOX, (char **)argv);
		_exit(127);
	}
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		char line[512] = "";
		for (int i = 0; argv[i]; i++) { strncat(line, " ", sizeof line - strlen(line) - 1); strncat(line, argv[i], sizeof line - strlen(line) - 1); }
		logf_("failed:%s", line);
		return -1;
	}
	return 0;
}

/* ---- setup steps ---- */

/* The console is a tty whose ONLCR turns every \n the process writes into \r\n; the
 * host's log wants the process's bytes as written, so output processing goes off. */
static void setup_console(void) {
	struct termios t;
	if (tcgetattr(2, &t) < 0) return;
	t.c_oflag &= ~(tcflag_t)ONLCR;
	if (tcsetattr(2, TCSANOW, &t) < 0) logf_("console: %s", strerror(errno));
}

static int write_cg(const char *file, const char *value) {
	char path[256];
	snprintf(path, sizeof path, "%s/%s", CGROUP, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* Mounts cgroup2 and makes the Machine's cgroup with its limits. The VM has a little more
 * RAM than the limit (the kernel and this init need some, see microvm-driver.ts), so the
 * cgroup is what holds the process to exactly memory_mb. */
static int setup_cgroup(char *why, size_t whylen) {
	if (mount("cgroup2", CGROOT, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 && errno != EBUSY) {
		snprintf(why, whylen, "mount cgroup2 on %s: %s", CGROOT, strerror(errno));
		return -1;
	}
	int fd = open(CGROOT "/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "+memory +pids", 13) != 13) {
		snprintf(why, whylen, "enable the memory and pids controllers: %s", strerror(errno));
		if (fd >= 0) close(fd);
		return -1;
	}
	close(fd);
	if (mkdir(CGROUP, 0755) < 0 && errno != EEXIST) { snprintf(why, whylen, "mkdir %s: %s", CGROUP, strerror(errno)); return -1; }
	char v[32];
	if (cfg.memory_mb > 0) {
		snprintf(v, sizeof v, "%llu", cfg.memory_mb * 1024 * 1024);
		/* No swap in the guest, but say so: the limit is RAM alone. */
		if (write_cg("memory.max", v) < 0) { snprintf(why, whylen, "memory.max %s: %s", v, strerror(errno)); return -1; }
		write_cg("memory.swap.max", "0");
	}
	if (cfg.pids_max > 0) {
		snprintf(v, sizeof v, "%llu", cfg.pids_max);
		if (write_cg("pids.max", v) < 0) { snprintf(why, whylen, "pids.max %s: %s", v, strerror(errno)); return -1; }
	}
	cg_procs_fd = open(CGROUP "/cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (cg_procs_fd < 0) { snprintf(why, whylen, "open %s/cgroup.procs: %s", CGROUP, strerror(errno)); return -1; }
	return 0;
}

/* How many times the OOM killer has killed in the Machine's cgroup. */
static long long oom_kills(void) {
	char text[512] = "";
	int fd = open(CGROUP "/memory.events", O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	char *p = strstr(text, "oom_kill ");
	return p ? strtoll(p + 9, NULL, 10) : 0;
}

/* Everything from here to setup_volumes runs in a child already chrooted into the image
 * (setup_image_root), so paths, symlinks included, resolve as the image means them. */
static void mount_in_root(const char *src, const char *path, const char *type, unsigned long flags, const char *data) {
	mkdir_p(path, 0755);
	if (mount(src, path, type, flags, data) < 0 && errno != EBUSY) logf_("mount %s on %s: %s", type, path, strerror(errno));
}

static void setup_mounts(void) {
	mount_in_root("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_in_root("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_in_root("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	mount_in_root("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	mount_in_root("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_in_root("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_in_root("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	/* /dev/ptmx must reach this devpts instance, not the devtmpfs node. */
	unlink("/dev/ptmx");
	if (symlink("pts/ptmx", "/dev/ptmx") < 0) logf_("ptmx: %s", strerror(errno));
}

static int setup_files(void) {
	buf_t b = {0};
	if (cfg.hostname) {
		buf_str(&b, cfg.hostname);
		buf_str(&b, "\n");
		write_file("/etc/hostname", b.p);
		b.len = 0;
	}
	mkdir("/etc", 0755);
	buf_str(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	for (int i = 0; i < cfg.hosts.n; i++) { buf_str(&b, cfg.hosts.v[i]); buf_str(&b, "\n"); }
	if (write_file("/etc/hosts", b.p) < 0) logf_("/etc/hosts: %s", strerror(errno));
	if (cfg.nameservers.n > 0 || cfg.search.n > 0) {
		b.len = 0;
		b.p[0] = 0;
		for (int i = 0; i < cfg.nameservers.n; i++) { buf_str(&b, "nameserver "); buf_str(&b, cfg.nameservers.v[i]); buf_str(&b, "\n"); }
		if (cfg.search.n > 0) {
			buf_str(&b, "search");
			for (int i = 0; i < cfg.search.n; i++) { buf_str(&b, " "); buf_str(&b, cfg.search.v[i]); }
			buf_str(&b, "\n");
		}
		if (write_file("/etc/resolv.conf", b.p) < 0) logf_("/etc/resolv.conf: %s", strerror(errno));
	}
	free(b.p);
	return 0;
}

static int setup_network(void) {
	int bad = 0;
	const char *lo[] = { "ip", "link", "set", "lo", "up", NULL };
	bad |= run_busybox(lo);
	if (cfg.addrs.n == 0 && cfg.routes.n == 0) return bad;
	if (cfg.mtu) {
		const char *mtu[] = { "ip", "link", "set", "eth0", "mtu", cfg.mtu, NULL };
		bad |= run_busybox(mtu);
	}
	const char *up[] = { "ip", "link", "set", "eth0", "up", NULL };
	bad |= run_busybox(up);
	/* No duplicate address detection: the address is ours alone on the Machine's link, and
	 * DAD would leave it "tentative" (unusable) for a second or more after boot. busybox's
	 * ip has no `nodad`, so turn DAD off for eth0 before adding addresses. */
	int dad = open("/proc/sys/net/ipv6/conf/eth0/accept_dad", O_WRONLY | O_CLOEXEC);
	if (dad >= 0) {
		if (write(dad, "0\n", 2) != 2) logf_("accept_dad: %s", strerror(errno));
		close(dad);
	}
	for (int i = 0; i < cfg.addrs.n; i++) {
		const char *fam = strchr(cfg.addrs.v[i], ':') ? "-6" : "-4";
		const char *a[] = { "ip", fam, "addr", "add", cfg.addrs.v[i], "dev", "eth0", NULL };
		bad |= run_busybox(a);
	}
	for (int i = 0; i < cfg.routes.n; i++) {
		char *dest = cfg.routes.v[i], *tab = strchr(dest, '\t');
		if (!tab) continue;
		*tab = 0;
		const char *gw = tab + 1, *fam = strchr(gw, ':') ? "-6" : "-4";
		const char *r[] = { "ip", fam, "route", "add", dest, "via", gw, "dev", "eth0", NULL };
		bad |= run_busybox(r);
		*tab = '\t';
	}
	return bad;
}

/* "serial:NAME" → the /dev/vdX whose virtio-blk serial is NAME. */
static int resolve_source(const char *src, char *out, size_t outlen) {
	if (strncmp(src, "serial:", 7)) { snprintf(out, outlen, "%s", src); return 0; }
	DIR *d = opendir("/sys/block");
	struct dirent *e;
	int found = -1;
	while (d && (e = readdir(d)) && found < 0) {
		char path[512], serial[64] = {0};
		snprintf(path, sizeof path, "/sys/block/%s/serial", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) continue;
		ssize_t n = read(fd, serial, sizeof serial - 1);
		close(fd);
		while (n > 0 && (serial[n - 1] == '\n' || serial[n - 1] == 0)) serial[--n] = 0;
		if (n > 0 && !strcmp(serial, src + 7)) { snprintf(out, outlen, "/dev/%s", e->d_name); found = 0; }
	}
	if (d) closedir(d);
	return found;
}

static int setup_volumes(char *why, size_t whylen) {
	for (int i = 0; i < cfg.mounts.n; i++) {
		char spec[4096], dev[256];
		snprintf(spec, sizeof spec, "%s", cfg.mounts.v[i]);
		char *fstype = strchr(spec, '\t'), *path = fstype ? strchr(fstype + 1, '\t') : NULL;
		if (!path) continue;
		*fstype++ = 0;
		*path++ = 0;
		if (resolve_source(spec, dev, sizeof dev) < 0) { snprintf(why, whylen, "mount %s: no disk with that serial", spec); return -1; }
		mkdir_p(path, 0755);
		if (mount(dev, path, fstype, 0, NULL) < 0) {
			snprintf(why, whylen, "mount %s (%s) on %s: %s", dev, fstype, path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Prepares the image root from inside it: a child chroots into ROOT and does the mounts,
 * the /etc files, the volumes and the workdir, so that a symlink in the image (/var/run ->
 * /run, /data -> /srv/data) leads where it leads for the image, never into the initramfs. */
static int setup_image_root(char *why, size_t whylen) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) { snprintf(why, whylen, "pipe: %s", strerror(errno)); return -1; }
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		char w[1024] = "";
		if (chroot(ROOT) < 0 || chdir("/") < 0) { dprintf(p[1], "chroot %s: %s", ROOT, strerror(errno)); _exit(1); }
		setup_mounts();
		setup_files();
		if (setup_volumes(w, sizeof w) < 0) { dprintf(p[1], "%s", w); _exit(1); }
		/* Like runc: a workdir the image lacks is created (owned by root), not an error. */
		mkdir_p(cfg.workdir, 0755);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0) { snprintf(why, whylen, "fork: %s", strerror(errno)); close(p[0]); return -1; }
	ssize_t n = read(p[0], why, whylen - 1);
	close(p[0]);
	why[n > 0 ? n : 0] = 0;
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
	if (!why[0]) snprintf(why, whylen, "preparing the image root failed (status %d)", st);
	return -1;
}

/* ---- exec requests ---- */

typedef struct {
	int used;
	char id[80];
	pid_t pid;
	int out, err; /* pipe read ends, -1 when closed */
	buf_t obuf, ebuf;
	long long deadline;
	int timed_out;
} exec_t;
static exec_t execs[MAX_EXECS];

static void send_error(const char *id, const char *message) {
	buf_t m = {0};
	buf_str(&m, "error");
	put_str(&m, "id", id);
	put_str(&m, "message", message);
	send_line(&m);
}

static void drain(int *fd, buf_t *b) {
	char chunk[16384];
	for (;;) {
		ssize_t n = read(*fd, chunk, sizeof chunk);
		if (n > 0) {
			size_t room = b->len < MAX_STREAM ? MAX_STREAM - b->len : 0;
			buf_add(b, chunk, (size_t)n < room ? (size_t)n : room);
			continue;
		}
		if (n < 0 && errno == EINTR) continue;
		if (n == 0 || errno != EAGAIN) { close(*fd); *fd = -1; }
		return;
	}
}

static void finish_exec(exec_t *x, int status) {
	if (x->out >= 0) drain(&x->out, &x->obuf);
	if (x->err >= 0) drain(&x->err, &x->ebuf);
	if (x->out >= 0) close(x->out);
	if (x->err >= 0) close(x->err);
	buf_t m = {0};
	buf_str(&m, "exec_result");
	put_str(&m, "id", x->id);
	put_int(&m, "code", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	put_int(&m, "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	put_int(&m, "timed_out", x->timed_out);
	put_field(&m, "stdout", x->obuf.p ? x->obuf.p : "", x->obuf.len);
	put_field(&m, "stderr", x->ebuf.p ? x->ebuf.p : "", x->ebuf.len);
	send_line(&m);
	free(x->obuf.p);
	free(x->ebuf.p);
	memset(x, 0, sizeof *x);
}

static void start_exec(char **keys, char **vals, int n) {
	const char *id = "", *cwd = cfg.workdir, *groups = NULL;
	uid_t uid = 0;
	gid_t gid = 0;
	long long timeout = 30000;
	list_t args = {0}, env = {0};
	for (int i = 0; i < n; i++) {
		if (!strcmp(keys[i], "id")) id = vals[i];
		else if (!strcmp(keys[i], "cwd")) cwd = vals[i];
		else if (!strcmp(keys[i], "groups")) groups = vals[i];
		else if (!strcmp(keys[i], "uid")) uid = (uid_t)strtoul(vals[i], NULL, 10);
		else if (!strcmp(keys[i], "gid")) gid = (gid_t)strtoul(vals[i], NULL, 10);
		else if (!strcmp(keys[i], "timeout_ms")) timeout = strtoll(vals[i], NULL, 10);
		else if (!strcmp(keys[i], "arg")) list_add(&args, vals[i]);
		else if (!strcmp(keys[i], "env")) list_add(&env, vals[i]);
	}
	/* The main process's environment, then the request's (which wins). */
	list_t merged = {0};
	for (int i = 0; i < cfg.env.n; i++) {
		size_t kl = strcspn(cfg.env.v[i], "=");
		int overridden = 0;
		for (int j = 0; j < env.n; j++)
			if (!strncmp(env.v[j], cfg.env.v[i], kl + 1)) overridden = 1;
		if (!overridden) list_add(&merged, cfg.env.v[i]);
	}
	for (int j = 0; j < env.n; j++) list_add(&merged, env.v[j]);
	exec_t *x = NULL;
	for (int i = 0; i < MAX_EXECS && !x; i++)
		if (!execs[i].used) x = &execs[i];
	int op[2] = {-1, -1}, ep[2] = {-1, -1};
	char errmsg[512] = "";
	if (args.n == 0) send_error(id, "exec needs at least one arg");
	else if (!x) send_error(id, "too many execs running (16)");
	else if (pipe2(op, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
		send_error(id, strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (op[i] >= 0) close(op[i]);
			if (ep[i] >= 0) close(ep[i]);
		}
	} else {
		pid_t pid = spawn_in_root(args.v, merged.v, uid, gid, groups, cwd, op[1], ep[1], errmsg, sizeof errmsg);
		close(op[1]);
		close(ep[1]);
		op[1] = ep[1] = -1;
		if (pid < 0) { send_error(id, errmsg); close(op[0]); close(ep[0]); }
		else {
			*x = (exec_t){ .used = 1, .pid = pid, .out = op[0], .err = ep[0], .deadline = now_ms() + timeout };
			snprintf(x->id, sizeof x->id, "%s", id);
			/* A failure before execve is told on stderr, as a shell would. */
			if (errmsg[0]) { buf_str(&x->ebuf, errmsg); buf_str(&x->ebuf, "\n"); }
		}
	}
	free(args.v);
	free(env.v);
	free(merged.v);
}

/* ---- the main loop ---- */

static pid_t main_pid = -1;
static int main_done, poweroff_acked;
static long long shutdown_at;

/* ---- ps ---- */

static ssize_t read_small(const char *path, char *out, size_t len) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, out, len - 1);
	close(fd);
	out[n > 0 ? n : 0] = 0;
	return n;
}

/* Appends one process as `pid= ppid= uid= rss_kb= cpu_ms= cmd=`; 0 if it is gone. */
static int put_process(buf_t *m, pid_t pid) {
	char path[64], stat[1024], status[4096], cmd[4096];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (read_small(path, stat, sizeof stat) <= 0) return 0;
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if (read_small(path, status, sizeof status) <= 0) return 0;
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	ssize_t n = read_small(path, cmd, sizeof cmd);
	for (ssize_t i = 0; i < n; i++)
		if (!cmd[i]) cmd[i] = ' ';
	while (n > 0 && cmd[n - 1] == ' ') cmd[--n] = 0;
	/* The fields after "(comm) ": state ppid ... utime(14th) stime(15th) in stat(5). */
	char *open_p = strchr(stat, '('), *close_p = strrchr(stat, ')');
	if (!open_p || !close_p) return 0;
	if (n <= 0) snprintf(cmd, sizeof cmd, "[%.*s]", (int)(close_p - open_p - 1), open_p + 1);
	char state;
	long long ppid = 0, utime = 0, stime = 0;
	sscanf(close_p + 2, "%c %lld %*s %*s %*s %*s %*s %*s %*s %*s %*s %lld %lld", &state, &ppid, &utime, &stime);
	char *uid = strstr(status, "\nUid:"), *rss = strstr(status, "\nVmRSS:");
	put_int(m, "pid", pid);
	put_int(m, "ppid", ppid);
	put_int(m, "uid", uid ? strtoll(uid + 5, NULL, 10) : 0);
	put_int(m, "rss_kb", rss ? strtoll(rss + 8, NULL, 10) : 0);
	put_int(m, "cpu_ms", (utime + stime) * 1000 / sysconf(_SC_CLK_TCK));
	put_str(m, "cmd", cmd);
	return 1;
}

/* The Machine's processes: those in its cgroup (never this init, kernel threads or the
 * init's own helpers), the main process first, then by pid. */
static void send_ps(const char *id) {
	buf_t m = {0};
	buf_str(&m, "ps_result");
	put_str(&m, "id", id);
	if (main_pid > 0 && !main_done) put_process(&m, main_pid);
	int fd = open(CGROUP "/cgroup.procs", O_RDONLY | O_CLOEXEC);
	buf_t pids = {0};
	char chunk[4096];
	ssize_t n;
	while (fd >= 0 && (n = read(fd, chunk, sizeof chunk)) > 0) buf_add(&pids, chunk, (size_t)n);
	if (fd >= 0) close(fd);
	/* cgroup.procs is not sorted: a few hundred pids at most (pids.max), so select in order. */
	for (long last = 0;;) {
		long next = -1;
		for (char *p = pids.p; p && *p;) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p) break;
			if (v > last && v != main_pid && (next < 0 || v < next)) next = v;
			p = end;
			while (*p == '\n') p++;
		}
		if (next < 0) break;
		put_process(&m, (pid_t)next);
		last = next;
	}
	free(pids.p);
	send_line(&m);
}

static void handle_line(char *line) {
	char *keys[4096], *vals[4096];
	int n = 0;
	char *save = NULL, *verb = strtok_r(line, " ", &save);
	if (!verb) return;
	for (char *t = strtok_r(NULL, " ", &save); t && n < 4096; t = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(t, '=');
		if (!eq) continue;
		*eq = 0;
		keys[n] = t;
		vals[n] = eq + 1;
		decode(vals[n]);
		n++;
	}
	const char *id = "";
	for (int i = 0; i < n; i++)
		if (!strcmp(keys[i], "id")) id = vals[i];
	buf_t m = {0};
	if (!strcmp(verb, "exec")) start_exec(keys, vals, n);
	else if (!strcmp(verb, "ping")) { buf_str(&m, "pong"); put_str(&m, "id", id); send_line(&m); }
	else if (!strcmp(verb, "poweroff")) poweroff_acked = 1;
	else if (!strcmp(verb, "ps")) send_ps(id);
	else if (!strcmp(verb, "signal")) {
		int sig = 0;
		for (int i = 0; i < n; i++)
			if (!strcmp(keys[i], "sig")) sig = atoi(vals[i]);
		if (main_pid <= 0 || main_done) send_error(id, "no main process is running");
		else if (sig <= 0 || kill(main_pid, sig) < 0) send_error(id, sig <= 0 ? "sig must be a signal number" : strerror(errno));
		else { buf_str(&m, "signal_result"); put_str(&m, "id", id); send_line(&m); }
	} else if (*id) send_error(id, "unknown request");
}

static void on_port(short revents) {
	if (revents & POLLIN) {
		char chunk[65536];
		ssize_t n = read(port_fd, chunk, sizeof chunk);
		if (n > 0) {
			buf_add(&in_q, chunk, (size_t)n);
			char *nl;
			while (in_q.p && (nl = memchr(in_q.p, '\n', in_q.len))) {
				*nl = 0;
				size_t used = (size_t)(nl - in_q.p) + 1;
				handle_line(in_q.p);
				buf_consume(&in_q, used);
			}
			if (in_q.len > MAX_LINE) in_q.len = 0; /* a runaway line: drop it */
		} else if (n == 0) {
			port_retry_at = now_ms() + 100; /* the host has gone away: look again later */
		}
	} else if (revents & (POLLHUP | POLLERR)) {
		port_retry_at = now_ms() + 100;
	}
	if ((revents & POLLOUT) && out_q.len > 0) {
		ssize_t n = write(port_fd, out_q.p, out_q.len);
		if (n > 0) buf_consume(&out_q, (size_t)n);
	}
}

static void power_off(void) {
	kill(-1, SIGTERM);
	/* Give what is left a moment to flush, then no more chances. */
	nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
	kill(-1, SIGKILL);
	sync();
	reboot(RB_POWER_OFF);
	for (;;) pause();
}

static void on_main_exit(int status, const char *error) {
	buf_t m = {0};
	buf_str(&m, "exit");
	put_int(&m, "code", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	put_int(&m, "signal", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	/* Killed for the memory limit: SIGKILL while the cgroup counted an OOM kill. */
	put_int(&m, "oom", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && oom_kills() > 0);
	if (error && *error) put_str(&m, "error", error);
	send_line(&m);
	main_done = 1;
	/* Wait for the host's acknowledgement (`poweroff`), bounded: a host that connects late
	 * (an agent restarting) still reads it, and a host that never comes does not keep the
	 * VM forever. */
	shutdown_at = now_ms() + EXIT_ACK_MS;
}

static void fatal(const char *message) {
	logf_("fatal: %s", message);
	buf_t m = {0};
	buf_str(&m, "fatal");
	put_str(&m, "message", message);
	send_line(&m);
	main_done = 1;
	shutdown_at = now_ms() + EXIT_ACK_MS;
}

static void reap(void) {
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == main_pid) on_main_exit(st, NULL);
		for (int i = 0; i < MAX_EXECS; i++)
			if (execs[i].used && execs[i].pid == pid) finish_exec(&execs[i], st);
	}
}

int main(int argc, char **argv) {
	const char *conf = argc > 1 ? argv[1] : "/aloft/run.conf";
	sigset_t mask;
	sigemptyset(&mask);
	int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) sigaddset(&mask, fwd[i]);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	setup_console();
	open_port();
	buf_t m = {0};
	buf_str(&m, "hello");
	put_int(&m, "version", 1);
	send_line(&m);

	char why[1024] = "";
	int rc = read_config(conf);
	if (rc < 0) {
		snprintf(why, sizeof why, rc == -1 ? "cannot read run config %s: %s" : "run config %s has no arg", conf, strerror(errno));
		fatal(why);
	} else {
		if (cfg.hostname && sethostname(cfg.hostname, strlen(cfg.hostname)) < 0) logf_("sethostname: %s", strerror(errno));
		if (setup_network() != 0) logf_("network setup was incomplete (see above)");
		if (setup_cgroup(why, sizeof why) < 0) fatal(why);
		else if (setup_image_root(why, sizeof why) < 0) fatal(why);
	}
	if (!main_done) {
		list_t env = {0};
		for (int i = 0; i < cfg.env.n; i++) list_add(&env, cfg.env.v[i]);
		static char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
		if (!env_get(&env, "PATH")) list_add(&env, path_env);
		char host_env[300];
		if (!env_get(&env, "HOSTNAME") && cfg.hostname) {
			snprintf(host_env, sizeof host_env, "HOSTNAME=%s", cfg.hostname);
			list_add(&env, host_env);
		}
		cfg.env = env; /* execs start from this too */
		int console = open("/dev/console", O_WRONLY | O_CLOEXEC | O_NOCTTY);
		char errmsg[512] = "";
		main_pid = spawn_in_root(cfg.args.v, env.v, cfg.uid, cfg.gid, cfg.groups_s, cfg.workdir, console, console, errmsg, sizeof errmsg);
		if (console >= 0) close(console);
		if (main_pid < 0) fatal(errmsg);
		else if (errmsg[0]) {
			/* It never ran: wait for the child's exit code (127/126) and say why. */
			int st = 0;
			logf_("%s", errmsg);
			while (waitpid(main_pid, &st, 0) < 0 && errno == EINTR) {}
			on_main_exit(st, errmsg);
		} else {
			buf_str(&m, "started");
			put_int(&m, "pid", main_pid);
			send_line(&m);
		}
	}

	for (;;) {
		long long now = now_ms();
		/* The host has the exit when it says poweroff. */
		if (main_done && (poweroff_acked || now >= shutdown_at || port_fd < 0)) power_off();
		struct pollfd fds[2 + 2 * MAX_EXECS];
		exec_t *owner[2 + 2 * MAX_EXECS];
		int nf = 0, timeout = -1;
		fds[nf++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (port_fd >= 0) {
			if (now >= port_retry_at) fds[nf++] = (struct pollfd){ .fd = port_fd, .events = POLLIN | (out_q.len ? POLLOUT : 0) };
			else timeout = (int)(port_retry_at - now);
		}
		int port_slot = port_fd >= 0 && now >= port_retry_at ? 1 : -1;
		for (int i = 0; i < MAX_EXECS; i++) {
			exec_t *x = &execs[i];
			if (!x->used) continue;
			if (x->out >= 0) { owner[nf] = x; fds[nf++] = (struct pollfd){ .fd = x->out, .events = POLLIN }; }
			if (x->err >= 0) { owner[nf] = x; fds[nf++] = (struct pollfd){ .fd = x->err, .events = POLLIN }; }
			if (!x->timed_out) {
				long long left = x->deadline - now;
				if (left <= 0) { x->timed_out = 1; kill(-x->pid, SIGKILL); kill(x->pid, SIGKILL); }
				else if (timeout < 0 || left < timeout) timeout = (int)left;
			}
		}
		if (main_done) {
			long long left = shutdown_at - now;
			if (left < 1) left = 1;
			if (timeout < 0 || left < timeout) timeout = (int)left;
		}
		int r = poll(fds, (nfds_t)nf, timeout);
		if (r < 0 && errno != EINTR) { logf_("poll: %s", strerror(errno)); continue; }
		if (r <= 0) continue;
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGCHLD) continue;
				if (main_pid > 0 && !main_done) kill(main_pid, (int)si.ssi_signo);
			}
			reap();
		}
		if (port_slot == 1 && fds[1].revents) on_port(fds[1].revents);
		for (int i = port_slot == 1 ? 2 : 1; i < nf; i++) {
			if (!fds[i].revents) continue;
			exec_t *x = owner[i];
			if (!x->used) continue;
			if (fds[i].fd == x->out) drain(&x->out, &x->obuf);
			else if (fds[i].fd == x->err) drain(&x->err, &x->ebuf);
		}
		reap(); /* cheap, and catches a SIGCHLD merged with another signal */
	}
}
