/* estatemap -- a map server for Minhang's "Beautiful Homes" (美丽家园) programme.
 * This file only dispatches to the subcommands in cli*.c. */
#include "cli.h"
#include "cli_export.h"
#include "cli_serve.h"
#include "paths.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"init", em_cli_init, "create an empty estatemap database (SpatiaLite, WAL)"},
    {"import", em_cli_import, "import a Shapefile, GeoJSON, GeoPackage, CSV or KML into a layer"},
    {"demo", em_cli_demo, "build the Minhang demo database from geodata/"},
    {"check", em_cli_check, "report counts, invalid geometry, orphans and file integrity"},
    {"serve", em_cli_serve, "serve the web map, OGC API - Features, /healthz and /metrics"},
    {"analyze", em_cli_analyze, "the programme's analyses: corridors, density, eligibility, ..."},
    {"export", em_cli_export,
     "export a layer or an analysis as Shapefile, GeoPackage, GeoJSON, CSV, KML or XLSX"},
};

static void print_help(FILE *out) {
    fprintf(out, "usage: estatemap COMMAND [OPTIONS]\n\n"
                 "A map server for Shanghai Minhang's \"Beautiful Homes\" (美丽家园) programme.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\nEvery command takes --help. The database is --db FILE, else $ESTATEMAP_DB,\n"
                 "else estatemap.sqlite in the working directory.\n\n"
                 "options:\n"
                 "  -h, --help     show this help\n"
                 "  -V, --version  show the version\n\n"
                 "exit codes: 0 success, 1 runtime error, 2 usage error\n");
}

int main(int argc, char **argv) {
    em_paths_set_argv0(argv[0]);
    if (argc < 2) {
        print_help(stderr);
        return EM_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        if (strcmp(cmd, "help") == 0 && argc > 2) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
                if (strcmp(subcommands[i].name, argv[2]) == 0)
                    return subcommands[i].run(2, help_argv);
        }
        print_help(stdout);
        return EM_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("estatemap %s\n", ESTATEMAP_VERSION);
        return EM_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(subcommands[i].name, cmd) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "estatemap: unknown command '%s' (see estatemap --help)\n", cmd);
    return EM_EXIT_USAGE;
}
