/* test_file_ops.c - file_open_beneath, the user-space stand-in for openat2
 * with RESOLVE_BENEATH, against a table of expected results and against the
 * kernel's openat2 itself (where it has one) on the same tree: symlinks in
 * and out, "..", loops, chains past the kernel's limit, trailing slashes,
 * creation through dangling links. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "check.h"
#include "engine/file_ops.h"

static char root[64];
static int dirfd_;

static void put(const char *rel, const char *body)
{
    char p[256];
    int fd;

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, body, strlen(body)) == (ssize_t)strlen(body));
    close(fd);
}

static void dir(const char *rel)
{
    char p[256];

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    CHECK(mkdir(p, 0755) == 0);
}

static void link_(const char *target, const char *rel)
{
    char p[256];

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    CHECK(symlink(target, p) == 0);
}

static void fixture(void)
{
    char abs[128], name[16], target[16];

    strcpy(root, "/tmp/ringhttpd-test-file-ops-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    put("outside.txt", "secret");
    dir("d");
    put("d/a.txt", "a");
    dir("d/sub");
    put("d/sub/b.txt", "b");
    dir("d/sub/deeper");
    put("d/sub/deeper/c.txt", "c");
    link_("a.txt", "d/in-link");
    link_("../a.txt", "d/sub/up-link");
    link_("deeper", "d/sub/dir-link");
    link_("../sub/deeper/c.txt", "d/sub/sibling");
    snprintf(abs, sizeof(abs), "%s/d/a.txt", root);
    link_(abs, "d/abs-link");
    link_("../outside.txt", "d/out-link");
    link_("..", "d/out-dir");
    link_("sub/../../outside.txt", "d/out-deep");
    link_("loop2", "d/loop1");
    link_("loop1", "d/loop2");
    link_("self", "d/self");
    link_("nothere", "d/dangling");
    link_("sub/../sub/../a.txt", "d/dotdot");
    link_("a.txt/", "d/trailing");
    link_("sub/", "d/dir-slash");
    for (int i = 0; i < 45; i++) { /* a chain of 45 links to a.txt */
        snprintf(name, sizeof(name), "d/l%d", i);
        snprintf(target, sizeof(target), i == 44 ? "a.txt" : "l%d", i + 1);
        link_(target, name);
    }
    link_("l6", "d/chain40"); /* 40 links in all: still followed */
    snprintf(abs, sizeof(abs), "%s/d", root);
    dirfd_ = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dirfd_ >= 0);
}

/* What an fd names: its first byte, or 'D' for a directory. */
static char what(int fd)
{
    struct stat st;
    char c = '?';

    CHECK(fstat(fd, &st) == 0);
    if (S_ISDIR(st.st_mode))
        return 'D';
    CHECK(pread(fd, &c, 1, 0) == 1);
    return c;
}

struct want {
    const char *name;
    int err; /* 0: opens what is named by `is` */
    char is;
};

static const struct want reads[] = {
    {"a.txt", 0, 'a'},
    {"sub/b.txt", 0, 'b'},
    {"sub/deeper/c.txt", 0, 'c'},
    {"in-link", 0, 'a'},
    {"sub/up-link", 0, 'a'},
    {"sub/dir-link/c.txt", 0, 'c'},
    {"sub/sibling", 0, 'c'},
    {"dotdot", 0, 'a'},
    {"sub/deeper/../b.txt", 0, 'b'},
    {".", 0, 'D'},
    {"sub/..", 0, 'D'},
    {"dir-slash", 0, 'D'},
    {"chain40", 0, 'a'},
    {"abs-link", EXDEV, 0},
    {"out-link", EXDEV, 0},
    {"out-dir", EXDEV, 0},
    {"out-dir/outside.txt", EXDEV, 0},
    {"out-deep", EXDEV, 0},
    {"..", EXDEV, 0},
    {"../outside.txt", EXDEV, 0},
    {"sub/../..", EXDEV, 0},
    {"sub/../../outside.txt", EXDEV, 0},
    {"/etc/passwd", EXDEV, 0},
    {"loop1", ELOOP, 0},
    {"self", ELOOP, 0},
    {"l0", ELOOP, 0},
    {"dangling", ENOENT, 0},
    {"nothere", ENOENT, 0},
    {"a.txt/x", ENOTDIR, 0},
    {"trailing", ENOTDIR, 0},
    {"sub/up-link/x", ENOTDIR, 0},
    {"in-link/", ENOTDIR, 0},
    {"sub/dir-link/", 0, 'D'},
};

static long kernel_openat2(const char *name, const struct open_how *how)
{
    long fd = syscall(SYS_openat2, dirfd_, name, how, sizeof(*how));

    return fd < 0 ? -errno : fd;
}

/* ours and, unless the kernel has no openat2, the kernel's: same outcome. */
static void expect(const struct want *w, const struct open_how *how)
{
    long fds[2] = {file_open_beneath(dirfd_, w->name, how), kernel_openat2(w->name, how)};

    for (int k = 0; k < 2; k++) {
        long fd = fds[k];
        if (k == 1 && fd == -ENOSYS)
            continue;
        if (w->err) {
            if (fd != -w->err)
                CHECK_FAIL_("%s %s: got %ld, want -%s", k ? "openat2" : "ours", w->name, fd,
                            strerror(w->err));
            continue;
        }
        if (fd < 0)
            CHECK_FAIL_("%s %s: %s", k ? "openat2" : "ours", w->name, strerror((int)-fd));
        if (what((int)fd) != w->is)
            CHECK_FAIL_("%s %s: opened the wrong file", k ? "openat2" : "ours", w->name);
        close((int)fd);
    }
}

static void test_reads(void)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};

    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
        expect(&reads[i], &how);
}

static void test_directories(void)
{
    struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    const struct want dirs[] = {
        {".", 0, 'D'},         {"sub", 0, 'D'},       {"sub/dir-link", 0, 'D'},
        {"a.txt", ENOTDIR, 0}, {"out-dir", EXDEV, 0},
    };

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        expect(&dirs[i], &how);
}

/* O_NOFOLLOW from the caller: a link as the last component is not followed. */
static void test_nofollow(void)
{
    struct open_how how = {.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    const struct want cases[] = {
        {"a.txt", 0, 'a'},
        {"sub/dir-link/c.txt", 0, 'c'},
        {"in-link", ELOOP, 0},
        {"sub/up-link", ELOOP, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect(&cases[i], &how);
}

/* Creation: O_EXCL refuses a dangling link; without it the link is followed
 * and its target made, beneath only. Each is tried by ours, then undone, then
 * by the kernel. */
static void test_create(void)
{
    struct open_how excl = {.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                            .mode = 0644,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    struct open_how follow = excl;
    struct open_how *hows[2] = {&excl, &follow};
    const struct {
        int how;
        const char *name, *made;
        int err;
    } cases[] = {
        {0, "new.txt", "new.txt", 0},
        {0, "sub/new.txt", "sub/new.txt", 0},
        {0, "sub/dir-link/new.txt", "sub/deeper/new.txt", 0},
        {0, "dangling", NULL, EEXIST},
        {0, "out-dir/new.txt", NULL, EXDEV},
        {0, "../new.txt", NULL, EXDEV},
        {1, "dangling", "nothere", 0},
    };

    follow.flags &= ~(uint64_t)O_EXCL;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int k = 0; k < 2; k++) {
            long fd = k ? kernel_openat2(cases[i].name, hows[cases[i].how])
                        : file_open_beneath(dirfd_, cases[i].name, hows[cases[i].how]);
            if (k == 1 && fd == -ENOSYS)
                continue;
            if (cases[i].err) {
                CHECK_INT_EQ(fd, -cases[i].err);
                continue;
            }
            CHECK(fd >= 0);
            close((int)fd);
            CHECK(unlinkat(dirfd_, cases[i].made, 0) == 0); /* made there, and only there */
        }
    }
    CHECK(faccessat(dirfd_, "../new.txt", F_OK, 0) != 0);
}

static void cleanup(void)
{
    char cmd[128];

    close(dirfd_);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    fixture();
    test_reads();
    test_directories();
    test_nofollow();
    test_create();
    cleanup();
    puts("test_file_ops: ok");
    return 0;
}
