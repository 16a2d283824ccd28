#ifndef ODRT_CLI_H
#define ODRT_CLI_H
#include "odrt.h"
int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_convert(int argc, char **argv);
/* print "odrt: WHAT: <last error>" and return 1 */
int cli_error(const char *what);
int write_text_file(const char *path, const char *text);
#endif
