#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ESTATEMAP_SHARE_DIR
#define ESTATEMAP_SHARE_DIR "/usr/local/share/estatemap"
#endif

static const char *saved_argv0;

void em_paths_set_argv0(const char *argv0) {
    saved_argv0 = argv0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int try_base(const char *base, const char *name, char *out, size_t outlen) {
    char candidate[PATH_MAX];
    int n = snprintf(candidate, sizeof candidate, "%s/%s", base, name);
    if (n < 0 || (size_t)n >= sizeof candidate || !is_dir(candidate))
        return -1;
    if ((size_t)n >= outlen)
        return -1;
    memcpy(out, candidate, (size_t)n + 1);
    return 0;
}

int em_resource_dir(const char *name, const char *argv0, char *out, size_t outlen) {
    const char *home = getenv("ESTATEMAP_HOME");
    if (home && *home)
        return try_base(home, name, out, outlen);
    if (try_base(".", name, out, outlen) == 0)
        return 0;
    /* A build tree sits in the checkout (build/estatemap): look one level up from the
     * executable's folder, then in the installed share folder. */
    if (!argv0)
        argv0 = saved_argv0;
    char exe[PATH_MAX];
    if (realpath("/proc/self/exe", exe) || (argv0 && realpath(argv0, exe))) {
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char up[PATH_MAX + 32];
            snprintf(up, sizeof up, "%s/..", exe);
            if (try_base(up, name, out, outlen) == 0)
                return 0;
            snprintf(up, sizeof up, "%s/../share/estatemap", exe);
            if (try_base(up, name, out, outlen) == 0)
                return 0;
        }
    }
    return try_base(ESTATEMAP_SHARE_DIR, name, out, outlen);
}
