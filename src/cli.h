/* cli.h -- the command-line front end: one function per subcommand.
 *
 * Each parses its own options, calls the library, prints, and returns the exit
 * code: 0 success, 1 runtime error (bad data, database failure), 2 usage error. */
#ifndef ESTATEMAP_CLI_H
#define ESTATEMAP_CLI_H

#include "errors.h"

enum { EM_EXIT_OK = 0, EM_EXIT_FAILURE = 1, EM_EXIT_USAGE = 2 };

int em_cli_init(int argc, char **argv);
int em_cli_import(int argc, char **argv);
int em_cli_check(int argc, char **argv);
int em_cli_demo(int argc, char **argv);
int em_cli_analyze(int argc, char **argv);

/* Print "estatemap CMD: message" and return the exit code for the error's kind. */
int em_cli_report(const char *command, const em_error *err);
/* Print a usage error with a pointer to --help; returns EM_EXIT_USAGE. */
int em_cli_usage(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
