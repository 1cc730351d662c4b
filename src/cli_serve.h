/* cli_serve.h -- `estatemap serve`: the command-line front end of server.c.
 * (Kept apart from cli.h so the server could be written alongside it; it can
 * move into cli.h at any time.) */
#ifndef ESTATEMAP_CLI_SERVE_H
#define ESTATEMAP_CLI_SERVE_H

/* Parse `serve` options (argv[0] is "serve"), run until SIGTERM/SIGINT.
 * Returns 0 after a clean stop, 1 when the server cannot start, 2 on a usage error. */
int em_cli_serve(int argc, char **argv);

#endif
