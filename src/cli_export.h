/* cli_export.h -- `estatemap export`: layers and analysis results as files for the
 * planning bureau (the command line side of export.h). */
#ifndef ESTATEMAP_CLI_EXPORT_H
#define ESTATEMAP_CLI_EXPORT_H

int em_cli_export(int argc, char **argv);

#endif
