/* paths.h -- where the program finds geodata/, web/ and styles/.
 *
 * Run from a source checkout it uses the checkout's folders (found next to the working
 * directory or the executable); installed, it uses PREFIX/share/estatemap.
 * $ESTATEMAP_HOME overrides both. */
#ifndef ESTATEMAP_PATHS_H
#define ESTATEMAP_PATHS_H

#include <stddef.h>

/* Fills `out` with the folder holding `name` ("geodata", "web", "styles").
 * Returns 0, or -1 when none is found. `argv0` may be NULL. */
int em_resource_dir(const char *name, const char *argv0, char *out, size_t outlen);
/* Remember argv[0] once at start-up, for em_resource_dir(name, NULL, ...). */
void em_paths_set_argv0(const char *argv0);

#endif
